// What `sieve push`, `pull`, `export`, `import` and `verify --remote` do (sharing-commands.ts
// declares them). These commands read only the pipeline's `cache` and `remote`, not its nodes, so
// a teammate can pull before the plugins a pipeline needs are installed.
import { dirname, resolve } from 'node:path';
import pc from 'picocolors';
import { formatBytes, formatMs } from '../reporters/format.js';
import { UsageError } from '../runtime/errors.js';
import { readPipelineHeader } from '../runtime/planning/header.js';
import { readUserConfig, resolveRemote, type RemoteSpec } from '../runtime/remotes/config.js';
import { lockfilePath, readLockfile, type Lockfile } from '../runtime/results/lockfile.js';
import { importBundle, exportBundle, type PipelineCode } from '../runtime/sharing/bundle.js';
import { pull, push, type Selection, type TransferProgress, type TransferReport } from '../runtime/sharing/sync.js';
import { verifyRemote } from '../runtime/store/maintenance.js';
import { SIEVE_VERSION } from '../version.js';
import { DEFAULT_PIPELINE, commandStore } from './defaults.js';

interface PipelineInfo {
  path: string;
  baseDir: string;
  cache?: string;
  remote?: RemoteSpec;
}

/** The pipeline's header (its `cache` and `remote`), read without planning it. */
async function readPipelineInfo(pipeline: string): Promise<PipelineInfo> {
  const { path, baseDir, header } = await readPipelineHeader(pipeline);
  return { path, baseDir, cache: header.cache, remote: header.remote };
}

async function requireLock(info: PipelineInfo): Promise<Lockfile> {
  const lock = await readLockfile(lockfilePath(info.path));
  if (!lock) throw new UsageError(`no lockfile ${lockfilePath(info.path)}: run the pipeline (or get its lockfile from git) first`);
  return lock;
}

const rate = (bytes: number, ms: number): string => `${(bytes / 1e6 / Math.max(ms / 1000, 1e-3)).toFixed(1)} MB/s`;

/** A live line on a terminal; nothing but the final summary otherwise (logs stay readable). */
function progressLine(verb: string): (p: TransferProgress) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (p) => {
    const line = `${verb} ${p.objectsDone}/${p.objectsTotal} objects, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}, ${rate(p.bytesDone, p.elapsedMs)}`;
    process.stderr.write(`\r\x1b[2K${line}`);
  };
}

function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
}

function summary(verb: string, r: TransferReport, where: string): string {
  return `${verb} ${r.transferred} object(s), ${formatBytes(r.transferredBytes)} in ${formatMs(r.ms)} (${rate(r.transferredBytes, r.ms)}); ` +
    `${r.alreadyThere} of ${r.wanted} already ${where}${r.resumed ? `; ${r.resumed} resumed from an interrupted pull` : ''}`;
}

export interface TransferFlags {
  remote?: string;
  node?: string;
  point?: string;
  jobs?: string;
  cache?: string;
  /** pull: the remote's results may serve every pipeline, not only this one. */
  trust?: boolean;
}

function jobsOf(flags: TransferFlags): number {
  const jobs = Number(flags.jobs ?? 8);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs must be a positive integer, got ${flags.jobs}`);
  return jobs;
}

export async function transfer(kind: 'push' | 'pull', pipeline: string | undefined, flags: TransferFlags): Promise<number> {
  const info = await readPipelineInfo(pipeline ?? DEFAULT_PIPELINE);
  const lock = await requireLock(info);
  const store = commandStore(flags, info);
  const { remote, name } = await resolveRemote({ flag: flags.remote, pipelineRemote: info.remote, pipelineDir: info.baseDir });
  const selection: Selection = { node: flags.node, point: flags.point };
  const opts = { selection, jobs: jobsOf(flags), onProgress: progressLine(kind === 'push' ? 'pushing' : 'pulling') };
  try {
    let report: TransferReport;
    if (kind === 'push') report = await push(store, remote, lock, opts);
    else {
      const source = name ?? remote.describe();
      const trusted = Boolean(flags.trust) || (await readUserConfig()).trustedRemotes.some((t) => t === source || t === remote.describe());
      report = await pull(store, remote, lock, { ...opts, origin: { kind: 'remote', source, pipeline: info.path, ...(trusted ? { trusted } : {}) } });
    }
    endProgress();
    if (kind === 'push') {
      process.stdout.write(`${summary('pushed', report, `on ${remote.describe()}`)}\n`);
      if (report.missingLocally.length) {
        process.stdout.write(pc.yellow(`not in the local cache, so not pushed (${report.missingLocally.length}):\n`));
        for (const m of report.missingLocally) process.stdout.write(`  ${m.hash} from ${m.producers.join(', ')}\n`);
        return 1;
      }
    } else {
      process.stdout.write(`${summary('pulled', report, 'in the local cache')}; ${report.actionsRestored} node(s) restored as cache hits\n`);
    }
    return 0;
  } finally {
    endProgress();
    await remote.close();
  }
}

export async function exportCommand(pipeline: string | undefined, flags: { output: string; node?: string; point?: string; cache?: string }): Promise<void> {
  const info = await readPipelineInfo(pipeline ?? DEFAULT_PIPELINE);
  await requireLock(info);
  const r = await exportBundle({
    store: commandStore(flags, info), pipelinePath: info.path, lockPath: lockfilePath(info.path),
    outFile: resolve(flags.output), sieveVersion: SIEVE_VERSION, selection: { node: flags.node, point: flags.point },
  });
  process.stdout.write(`exported ${r.objects} object(s), ${formatBytes(r.bytes)} to ${r.file}\n`);
}

export async function importCommand(bundle: string, flags: { to: string; force?: boolean; cache?: string; trust?: boolean }): Promise<void> {
  const toDir = resolve(flags.to);
  const file = resolve(bundle);
  // The user's cache: --cache, $SIEVE_CACHE, `cache:` of the user config, else the default. Never
  // the bundled pipeline's `cache:`, which would let a bundle choose where it writes.
  const userCache = flags.cache || process.env.SIEVE_CACHE ? undefined : (await readUserConfig()).cache;
  const store = commandStore(flags, { cache: userCache, baseDir: toDir });
  const r = await importBundle({ store, file, toDir, force: Boolean(flags.force), trust: Boolean(flags.trust) });
  process.stdout.write(
    `imported ${r.objects} object(s), ${formatBytes(r.bytes)} (${r.added} new) into ${store.root}; ` +
      `wrote ${r.pipelinePath} and ${r.lockPath}; ${r.actionsRestored} node(s) restored as cache hits` +
      `${flags.trust ? ' (trusted: usable by every pipeline)' : ` for ${r.pipelinePath} only`}\n`,
  );
  const code = describeCode(r.pipelineCode);
  if (code.length) {
    process.stdout.write(pc.yellow(`the imported pipeline runs code of its own; read it before running it:\n`));
    for (const line of code) process.stdout.write(`  ${line}\n`);
  }
  if (r.pipelineCode.cache !== undefined && resolve(dirname(r.pipelinePath), r.pipelineCode.cache) !== store.root) {
    process.stdout.write(pc.yellow(`the pipeline names \`cache: ${r.pipelineCode.cache}\`; the results are in ${store.root}: run it with --cache ${store.root}\n`));
  }
}

function describeCode(c: PipelineCode): string[] {
  return [
    ...c.plugins.map((p) => `plugin ${p} (JavaScript, loaded by every command that reads the pipeline)`),
    ...c.commands.map((n) => `command node ${n.id}: ${n.run}`),
  ];
}

/** `verify --remote`: hash every object on the remote. */
export async function verifyRemoteCommand(flags: { cache?: string; remote: string | boolean; pipeline?: string }): Promise<void> {
  const info = flags.pipeline ? await readPipelineInfo(flags.pipeline) : undefined;
  const { remote } = await resolveRemote({
    flag: typeof flags.remote === 'string' ? flags.remote : undefined, pipelineRemote: info?.remote, pipelineDir: info?.baseDir,
  });
  try {
    const r = await verifyRemote(remote, commandStore(flags, info));
    for (const b of r.bad) process.stdout.write(`${pc.red('bad')} ${b.hash}: ${b.reason}\n`);
    process.stdout.write(`${r.checked} object(s) checked on ${r.remote}, ${r.bad.length} bad\n`);
    if (r.bad.length > 0) process.exitCode = 1;
  } finally {
    await remote.close();
  }
}
