// Errors are values with context: each class carries the fields a caller (or the CLI) needs to say
// precisely what went wrong, and an exit code.

/** A problem located in a source: a file position or the command line. */
export interface Diagnostic {
  /** Path of the file, or "command line" for overrides. */
  file: string;
  /** 1-based; 0 when unknown. */
  line: number;
  /** 1-based; 0 when unknown. */
  column: number;
  /** Dotted path of the offending field, e.g. "nodes.relabel.params.absorb". */
  field: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  return `${where}: ${d.field ? `${d.field}: ` : ''}${d.message}`;
}

export class SieveError extends Error {
  override name = 'SieveError';
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
}

/** The pipeline (or its overrides) is invalid; nothing ran. */
export class ValidationError extends SieveError {
  override name = 'ValidationError';
  override readonly exitCode = 2;
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(
      `${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'} in the pipeline:\n` +
        diagnostics.map((d) => `  ${formatDiagnostic(d)}`).join('\n'),
    );
  }
}

/** Bad command-line usage (unknown node, malformed -p ...). */
export class UsageError extends SieveError {
  override name = 'UsageError';
  override readonly exitCode = 2;
}

/** A stored object does not match its content hash or recorded size. */
export class CorruptObjectError extends SieveError {
  override name = 'CorruptObjectError';
  constructor(
    readonly hash: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`object ${hash.slice(0, 12)} at ${path} is corrupt: ${reason}`);
  }
}

/** A node's implementation failed. */
export class NodeFailedError extends SieveError {
  override name = 'NodeFailedError';
  constructor(
    readonly nodeId: string,
    readonly nodeType: string,
    readonly detail: string,
    readonly causeStack?: string,
  ) {
    super(`node "${nodeId}" (${nodeType}) failed: ${detail}`);
  }
}

/** A task cannot start: an input's upstream failed or has no result, or its object is not in the cache. */
export class TaskInputError extends SieveError {
  override name = 'TaskInputError';
  constructor(
    readonly port: string,
    /** The node that produces it. */
    readonly upstream: string,
    readonly reason: string,
  ) {
    super(`input ${port}: ${reason}`);
  }
}

/** A remote executor's worker reported a task done, but its result cannot be accepted here. */
export class CompletionRefusedError extends SieveError {
  override name = 'CompletionRefusedError';
  constructor(
    readonly worker: string,
    readonly reason: string,
  ) {
    super(`worker ${worker} reported it done, but ${reason}`);
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
