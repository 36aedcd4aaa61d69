// `sieve verify` (the local cache) and `sieve gc`.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import pc from 'picocolors';
import { formatBytes } from '../reporters/format.js';
import { UsageError } from '../runtime/errors.js';
import { collectGarbage, verifyStore } from '../runtime/store/maintenance.js';
import type { Store } from '../runtime/store/store.js';
import { commandStore, type CacheFlags } from './defaults.js';

/** The cache a maintenance command works on, which must exist (a typo must not read as "0 checked, 0 bad"). */
async function existingStore(flags: CacheFlags): Promise<Store> {
  const store = commandStore(flags);
  const s = await stat(store.root).catch(() => undefined);
  if (!s?.isDirectory()) throw new UsageError(`no cache at ${store.root}: ${s ? 'not a directory' : 'the directory does not exist'} (see --cache)`);
  return store;
}

export async function verifyCommand(flags: CacheFlags & { repair?: boolean }): Promise<void> {
  const report = await verifyStore(await existingStore(flags), { repair: Boolean(flags.repair) });
  for (const b of report.bad) process.stdout.write(`${pc.red('bad')} ${b.hash}: ${b.reason}\n`);
  process.stdout.write(`${report.checked} object(s) checked, ${report.bad.length} bad${report.repaired ? ' (removed; they will be recomputed)' : ''}\n`);
  if (report.bad.length > 0 && !report.repaired) process.exitCode = 1;
}

export async function gcCommand(lockfiles: string[], flags: CacheFlags & { dryRun?: boolean }): Promise<void> {
  const r = await collectGarbage(await existingStore(flags), { dryRun: Boolean(flags.dryRun), lockfiles: lockfiles.map((l) => resolve(l)) });
  const verb = r.dryRun ? 'would remove' : 'removed';
  process.stdout.write(
    `${verb} ${r.removedObjects} object(s) (${formatBytes(r.removedBytes)}) and ${r.removedActions} action record(s); ` +
      `kept ${r.keptObjects} object(s) referenced by ${r.roots.length} root(s)` +
      `${r.inFlight ? ` or in use by a running process (${r.inFlight})` : ''}\n`,
  );
}
