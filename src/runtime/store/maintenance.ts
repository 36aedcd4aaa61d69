// `sieve gc` and `sieve verify`.
import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import type { Remote } from '../remotes/remote.js';
import { lockfileObjects, readLockfile } from '../results/lockfile.js';
import type { RunRecord } from '../results/run-record.js';
import { readLeases, type Store } from './store.js';

export interface GcReport {
  keptObjects: number;
  removedObjects: number;
  removedBytes: number;
  removedActions: number;
  removedTmp: number;
  roots: string[];
  dryRun: boolean;
  /** Objects kept only because a running process uses them or wrote them during its run. */
  inFlight: number;
}

/**
 * Slack for filesystem timestamps, which the kernel takes from a coarser clock than Date.now():
 * an object written just after gc started may carry an mtime a few milliseconds earlier.
 */
const CLOCK_SLACK_MS = 100;

/**
 * Removes objects that neither a run record (the latest run of each pipeline) nor a lockfile refers
 * to, and the action records that point at removed objects. A run record it cannot read stops it
 * (it must never widen what is deleted). Safe while runs go on: the objects a running process has
 * leased, and every object or record written since the oldest running process started (or since gc
 * itself started), are kept.
 */
export async function collectGarbage(store: Store, opts: { dryRun: boolean; lockfiles?: readonly string[] }): Promise<GcReport> {
  const started = Date.now();
  const live = new Set<string>();
  const roots: string[] = [];
  const lockPaths = new Set(opts.lockfiles ?? []);
  const leases = await readLeases(store);
  const cutoff = Math.min(started, leases.oldestStart ?? started) - CLOCK_SLACK_MS;
  const young = async (path: string): Promise<boolean> => ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) >= cutoff;
  for (const r of (await store.listRunRecords(true)) as unknown as RunRecord[]) {
    roots.push(`run record of ${r.file}`);
    for (const n of r.nodes ?? []) for (const o of Object.values(n.outputs ?? {})) live.add(o.hash);
    if (r.lockfile && existsSync(r.lockfile)) lockPaths.add(r.lockfile);
  }
  for (const p of lockPaths) {
    const lock = await readLockfile(p);
    if (!lock) continue;
    roots.push(p);
    for (const h of lockfileObjects(lock)) live.add(h);
  }
  let removedObjects = 0;
  let removedBytes = 0;
  let kept = 0;
  let inFlight = 0;
  for (const hash of await store.listObjects()) {
    if (live.has(hash)) {
      kept++;
      continue;
    }
    if (leases.hashes.has(hash) || (await young(store.objectPath(hash)))) {
      kept++;
      inFlight++;
      live.add(hash);
      continue;
    }
    removedObjects++;
    removedBytes += (await stat(store.objectPath(hash)).catch(() => undefined))?.size ?? 0;
    if (!opts.dryRun) await store.deleteObject(hash);
  }
  let removedActions = 0;
  for (const key of await store.listActions()) {
    const a = store.getAction(key);
    if (!a || Object.values(a.outputs).some((o) => !live.has(o.hash))) {
      if (await young(store.actionPath(key))) continue;
      removedActions++;
      if (!opts.dryRun) await store.deleteAction(key);
    }
  }
  let removedTmp = 0;
  if (!opts.dryRun) {
    removedTmp = (await store.cleanStaleTmp()) + (await store.cleanTmp(60 * 60 * 1000));
    for (const dead of leases.dead) await rm(dead, { force: true });
  }
  return { keptObjects: kept, removedObjects, removedBytes, removedActions, removedTmp, roots, dryRun: opts.dryRun, inFlight };
}

export interface VerifyReport {
  checked: number;
  bad: { hash: string; reason: string }[];
  repaired: boolean;
}

/** Hashes every object; with `repair`, removes bad ones and the actions that name them, so they are recomputed. */
export async function verifyStore(
  store: Store,
  opts: { repair: boolean; onProgress?(done: number, total: number): void },
): Promise<VerifyReport> {
  const hashes = await store.listObjects();
  const bad: VerifyReport['bad'] = [];
  for (const [i, h] of hashes.entries()) {
    const reason = await store.check(h);
    if (reason) bad.push({ hash: h, reason });
    opts.onProgress?.(i + 1, hashes.length);
  }
  if (opts.repair && bad.length > 0) {
    const badSet = new Set(bad.map((b) => b.hash));
    for (const h of badSet) await store.deleteObject(h);
    for (const key of await store.listActions()) {
      const a = store.getAction(key);
      if (a && Object.values(a.outputs).some((o) => badSet.has(o.hash))) await store.deleteAction(key);
    }
  }
  return { checked: hashes.length, bad, repaired: opts.repair && bad.length > 0 };
}

export interface RemoteVerifyReport {
  remote: string;
  checked: number;
  bad: { hash: string; reason: string }[];
}

/**
 * Downloads and hashes every object on a remote (into the cache's tmp/, removed as it goes),
 * reporting each that is misnamed, not a plain file, or whose content does not match its name.
 */
export async function verifyRemote(
  remote: Remote,
  store: Store,
  opts: { jobs?: number; onProgress?(done: number, total: number): void } = {},
): Promise<RemoteVerifyReport> {
  await store.init();
  await remote.connect();
  const entries = await remote.list();
  const bad: RemoteVerifyReport['bad'] = [];
  const limit = pLimit(opts.jobs ?? 4);
  let done = 0;
  await Promise.all(
    entries.map((entry) =>
      limit(async () => {
        if (entry.problem) {
          bad.push({ hash: entry.name, reason: entry.problem });
        } else {
          const tmp = store.tmpName('verify-');
          try {
            const got = await remote.get(entry.name, tmp);
            if (got.sha256 !== entry.name) bad.push({ hash: entry.name, reason: `content hashes to ${got.sha256}` });
          } catch (e) {
            bad.push({ hash: entry.name, reason: errorMessage(e) });
          } finally {
            await rm(tmp, { force: true });
          }
        }
        opts.onProgress?.(++done, entries.length);
      }),
    ),
  );
  bad.sort((a, b) => a.hash.localeCompare(b.hash));
  return { remote: remote.describe(), checked: entries.length, bad };
}
