// Shared helpers for the runtime and CLI tests: temp dirs, pipeline files, the CLI as a child
// process, in-process runs that collect events, execution counting (via $SIEVE_TEST_LOG, which the
// test node types append to) and cache inspection.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { builtinRegistry } from '../../src/nodes/index.js';
import type { NodeStatus, RunEvent, RunListener } from '../../src/runtime/execution/events.js';
import { execute, type RunResult } from '../../src/runtime/execution/executor.js';
import type { Plan } from '../../src/runtime/planning/plan-types.js';
import { loadPlan } from '../../src/runtime/planning/plan.js';
import { LockfileWriter, lockfilePath, readLockfile, type Lockfile } from '../../src/runtime/results/lockfile.js';
import { RunRecordWriter } from '../../src/runtime/results/run-record.js';
import { Store, type ActionRecord } from '../../src/runtime/store/store.js';
import { removeTemp, tempDir } from './temp.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The test-only node types (test-source, test-scale, ...), loaded as a plugin. */
export const TEST_PLUGIN = join(REPO_ROOT, 'test/fixtures/test-nodes.mjs');
export const CLI_ENTRY = join(REPO_ROOT, 'bin/sieve.cjs');
const COMPILED_CLI = join(REPO_ROOT, 'dist/sieve.mjs');

/** A `plugins:` line loading the test node types (an absolute path, so pipelines can live anywhere). */
export const PLUGINS_LINE = `plugins: [${JSON.stringify(TEST_PLUGIN)}]`;

/** For `beforeAll` of CLI tests: the CLI runs the bundle in dist/, which `npm test` builds first. */
export function assertCliBuilt(): void {
  if (!existsSync(COMPILED_CLI)) {
    throw new Error(`${COMPILED_CLI} is missing: run \`npm run build\` before these tests (\`npm test\` does it for you)`);
  }
}

export async function makeTempDir(prefix = 'sieve-test-'): Promise<string> {
  return tempDir(prefix);
}

/** Removes every directory `makeTempDir` (or `tempDir`) created in this test file (call from afterAll/afterEach). */
export async function removeTempDirs(): Promise<void> {
  removeTemp();
}

/** Writes a pipeline file and returns its absolute path. */
export async function writePipeline(dir: string, yamlText: string, fileName = 'pipeline.yaml'): Promise<string> {
  const path = join(dir, fileName);
  await writeFile(path, yamlText);
  return path;
}

/** A small linear pipeline: src (test-source) → scaled (test-scale) → m (test-metrics). */
export function linearPipeline(opts: { name?: string; seed?: number; factor?: number; extra?: string } = {}): string {
  return [
    `name: ${opts.name ?? 'linear'}`,
    `seed: ${opts.seed ?? 7}`,
    PLUGINS_LINE,
    'nodes:',
    '  src:',
    '    type: test-source',
    '    params: { n: 4, value: 1, step: 1 }',
    '  scaled:',
    '    type: test-scale',
    '    inputs: { x: src }',
    `    params: { factor: ${opts.factor ?? 3} }`,
    '  m:',
    '    type: test-metrics',
    '    inputs: { x: scaled }',
    ...(opts.extra ? [opts.extra] : []),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Execution log

/** Node ids in the order they really executed (one line per execution). */
export async function executions(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.length > 0);
}

export async function executionCounts(logFile: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const id of await executions(logFile)) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}

export async function clearLog(logFile: string): Promise<void> {
  await writeFile(logFile, '');
}

// ---------------------------------------------------------------------------------------------
// The CLI as a child process

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** Value of $SIEVE_TEST_LOG for the child. */
  log?: string;
  env?: Record<string, string>;
}

function cliEnv(opts: CliOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The child must not pick up a cache or a log from the environment the tests run in.
    if (v !== undefined && k !== 'SIEVE_CACHE' && k !== 'SIEVE_TEST_LOG' && k !== 'FORCE_COLOR') env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...(opts.log ? { SIEVE_TEST_LOG: opts.log } : {}), ...opts.env };
}

/** Starts `sieve <args>` without waiting (for kill and concurrency tests). */
export function startCli(args: readonly string[], opts: CliOptions): ResultPromise<{ reject: false; extendEnv: false }> {
  return execa(process.execPath, [CLI_ENTRY, ...args], { cwd: opts.cwd, env: cliEnv(opts), extendEnv: false, reject: false });
}

export async function runCli(args: readonly string[], opts: CliOptions): Promise<CliResult> {
  const r = await startCli(args, opts);
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Parses `--json` output: one JSON object per line. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** node id → status, from `--json` node lines (one instance per node id: no sweep). */
export function statusesFromJson(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of jsonLines(stdout)) if (l.event === 'node') out[String(l.node)] = String(l.status);
  return out;
}

// ---------------------------------------------------------------------------------------------
// In-process runs

export interface InProcessOptions {
  cache: string;
  log?: string;
  overrides?: string[];
  grid?: string[];
  zip?: string[];
  jobs?: number;
  /** Ignore the pipeline's sweep section (like `--no-sweep`). */
  noSweep?: boolean;
  /** Also write the lockfile and run record, as the CLI does (default true). */
  lockfile?: boolean;
}

export interface InProcessRun {
  plan: Plan;
  result: RunResult;
  events: RunEvent[];
  store: Store;
}

export async function planPipeline(path: string, opts: Pick<InProcessOptions, 'overrides' | 'grid' | 'zip' | 'noSweep'> = {}): Promise<Plan> {
  return loadPlan(path, { registry: builtinRegistry(), overrides: opts.overrides, grid: opts.grid, zip: opts.zip, noSweep: opts.noSweep });
}

/** Plans and executes a pipeline in this process, collecting every event. */
export async function runInProcess(path: string, opts: InProcessOptions): Promise<InProcessRun> {
  // Worker threads copy the environment when they start, so setting it here reaches them too.
  if (opts.log) process.env.SIEVE_TEST_LOG = opts.log;
  else delete process.env.SIEVE_TEST_LOG;
  const plan = await planPipeline(path, opts);
  const store = new Store(opts.cache);
  const events: RunEvent[] = [];
  const listeners: RunListener[] = [{ onEvent: (e) => void events.push(e) }];
  if (opts.lockfile !== false) {
    const lockPath = lockfilePath(plan.file.path);
    listeners.push(new LockfileWriter(plan, 'test', lockPath), new RunRecordWriter(plan, store, lockPath));
  }
  const result = await execute(plan, { store, jobs: opts.jobs ?? 2, listeners });
  return { plan, result, events, store };
}

type NodeEnd = Extract<RunEvent, { event: 'node-end' }>;

export function nodeEnds(events: readonly RunEvent[]): NodeEnd[] {
  return events.filter((e): e is NodeEnd => e.event === 'node-end');
}

/** node id → status of its (last) node-end event; for pipelines without a sweep. */
export function statuses(events: readonly RunEvent[]): Record<string, NodeStatus> {
  const out: Record<string, NodeStatus> = {};
  for (const e of nodeEnds(events)) out[e.node.nodeId] = e.status;
  return out;
}

/** The (last) node-end event of a node id. */
export function endOf(events: readonly RunEvent[], nodeId: string): NodeEnd {
  const found = nodeEnds(events).filter((e) => e.node.nodeId === nodeId);
  if (found.length === 0) throw new Error(`no node-end event for ${nodeId}`);
  return found[found.length - 1];
}

export function warnings(events: readonly RunEvent[]): { nodeId: string; message: string }[] {
  return events.flatMap((e) => (e.event === 'node-warning' ? [{ nodeId: e.node.nodeId, message: e.message }] : []));
}

export async function lockfileOf(pipelinePath: string): Promise<Lockfile> {
  const lock = await readLockfile(lockfilePath(pipelinePath));
  if (!lock) throw new Error(`no lockfile next to ${pipelinePath}`);
  return lock;
}

// ---------------------------------------------------------------------------------------------
// Cache inspection

/** Every object file in the cache: its hash (from its path) and absolute path. */
export async function objectFiles(cacheDir: string): Promise<{ hash: string; path: string }[]> {
  const root = join(cacheDir, 'objects');
  const out: { hash: string; path: string }[] = [];
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, prefix))) out.push({ hash: prefix + name, path: join(root, prefix, name) });
  }
  return out;
}

export async function actionRecords(cacheDir: string): Promise<ActionRecord[]> {
  const root = join(cacheDir, 'actions');
  const out: ActionRecord[] = [];
  for (const prefix of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, prefix))) {
      out.push(JSON.parse(await readFile(join(root, prefix, name), 'utf8')) as ActionRecord);
    }
  }
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Objects whose content does not hash to their name (partial or corrupt files). */
export async function badObjects(cacheDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const o of await objectFiles(cacheDir)) if (sha256Hex(await readFile(o.path)) !== o.hash) bad.push(o.hash);
  return bad;
}

/** Action records naming an object that is not in the cache. */
export async function danglingActions(cacheDir: string): Promise<string[]> {
  const present = new Set((await objectFiles(cacheDir)).map((o) => o.hash));
  return (await actionRecords(cacheDir)).filter((a) => Object.values(a.outputs).some((o) => !present.has(o.hash))).map((a) => a.key);
}

/** Absolute path of a stored object. */
export function objectPath(cacheDir: string, hash: string): string {
  return join(cacheDir, 'objects', hash.slice(0, 2), hash.slice(2));
}
