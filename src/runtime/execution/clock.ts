// Elapsed-time readings for events and summaries. process.hrtime is there from the start, whereas the
// `performance` global loads perf_hooks (a dozen internal modules) on first use: about a millisecond
// of every `sieve run`'s start-up.

/** A monotonic clock in milliseconds (arbitrary origin): subtract two readings. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
