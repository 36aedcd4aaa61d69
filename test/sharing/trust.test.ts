// The trust model: a result (key → outputs) that arrived from a bundle or a remote serves only the
// pipeline file it arrived with, unless its source is trusted; `status` says where results came
// from; `audit` recomputes them and removes a forged one. Plugins are never URLs; import writes
// only into the user's cache and only <name>.yaml / <name>.lock; no param path reaches a prototype.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/runtime/errors.js';
import { lockfilePath, serializeLockfile, type Lockfile } from '../../src/runtime/results/lockfile.js';
import { pipelineStatus } from '../../src/runtime/results/status.js';
import { exportBundle, importBundle } from '../../src/runtime/sharing/bundle.js';
import { Store } from '../../src/runtime/store/store.js';
import {
  PLUGINS_LINE, assertCliBuilt, executions, linearPipeline, makeTempDir, nodeEnds, planPipeline, removeTempDirs, runCli,
  runInProcess, writePipeline,
} from '../helpers/runtime.js';

beforeAll(assertCliBuilt);
afterAll(removeTempDirs);

/**
 * An attacker's bundle: the victim's own pipeline text under another name, whose lockfile gives
 * node `m` forged metrics (a well-formed object with a valid hash, but not what `m` computes).
 */
async function forgedBundle(): Promise<{ bundle: string; forgedHash: string; honestHash: string }> {
  const dir = await makeTempDir('sieve-trust-evil-');
  const cache = join(dir, 'cache');
  const path = await writePipeline(dir, linearPipeline(), 'evil.yaml');
  const run = await runInProcess(path, { cache });
  expect(run.result.summary.ok).toBe(true);
  const lock = JSON.parse(await readFile(lockfilePath(path), 'utf8')) as Lockfile;
  const m = lock.points.default.nodes.m;
  const honestHash = m.outputs.metrics.hash;
  const forged = Buffer.from(JSON.stringify({ mean: 0.999, sum: 999, table: 'sum 999' }));
  const put = await new Store(cache).put(forged);
  m.outputs.metrics = { ...m.outputs.metrics, hash: put.hash, size: put.size };
  await writeFile(lockfilePath(path), serializeLockfile(lock));
  const bundle = join(dir, 'evil.sieve.tar');
  await exportBundle({ store: new Store(cache), pipelinePath: path, lockPath: lockfilePath(path), outFile: bundle, sieveVersion: 'test' });
  return { bundle, forgedHash: put.hash, honestHash };
}

const metricsHash = (events: Awaited<ReturnType<typeof runInProcess>>['events']): string | undefined =>
  nodeEnds(events).find((e) => e.node.nodeId === 'm')?.record?.outputs.metrics.hash;

describe('results from elsewhere are bound to their pipeline', () => {
  it("a forged record in a bundle does not reach the victim's own pipeline, and audit removes it", async () => {
    const { bundle, forgedHash, honestHash } = await forgedBundle();
    const victim = await makeTempDir('sieve-trust-victim-');
    const cache = join(victim, 'cache');
    const imported = await importBundle({ store: new Store(cache), file: bundle, toDir: join(victim, 'downloads') });
    expect(imported.actionsRestored).toBe(3);

    // The victim's unrelated pipeline (same nodes, so the same keys) recomputes m: honest metrics.
    const own = await writePipeline(victim, linearPipeline());
    const log = join(victim, 'run.log');
    const run = await runInProcess(own, { cache, log });
    expect(run.result.summary.ok).toBe(true);
    expect(metricsHash(run.events)).toBe(honestHash);
    expect((await executions(log)).sort()).toEqual(['m', 'scaled', 'src']);
    const warnings = run.events.filter((e) => e.event === 'node-warning').map((e) => (e as { message: string }).message);
    expect(warnings.join('\n')).toMatch(/imported from bundle [0-9a-f]{12} for .*evil\.yaml is not used by this pipeline/);

    // A second victim cache: the bundle's own pipeline does use it, status says so, audit catches it.
    const v2 = await makeTempDir('sieve-trust-victim2-');
    const cache2 = join(v2, 'cache');
    const r2 = await importBundle({ store: new Store(cache2), file: bundle, toDir: v2 });
    const lines = await pipelineStatus(await planPipeline(r2.pipelinePath), new Store(cache2), undefined);
    expect(lines.map((l) => [l.nodeId, l.state, l.origin])).toEqual([
      ['src', 'up-to-date', `imported from bundle ${r2.sha256.slice(0, 12)}`],
      ['scaled', 'up-to-date', `imported from bundle ${r2.sha256.slice(0, 12)}`],
      ['m', 'up-to-date', `imported from bundle ${r2.sha256.slice(0, 12)}`],
    ]);
    const status = await runCli(['status', r2.pipelinePath, '--cache', cache2], { cwd: v2 });
    expect(status.stdout).toContain(`m: up to date (imported from bundle ${r2.sha256.slice(0, 12)})`);
    expect(status.stdout).toMatch(/results: 3 imported from bundle/);

    const audit = await runCli(['audit', r2.pipelinePath, '--cache', cache2], { cwd: v2 });
    expect(audit.exitCode, audit.stderr).toBe(1);
    expect(audit.stderr).toBe('');
    expect(audit.stdout).toMatch(/ok src /);
    expect(audit.stdout).toMatch(/MISMATCH m [0-9a-f]{12} \(imported from bundle [0-9a-f]{12}\): record removed/);
    expect(audit.stdout).toContain(`metrics: recorded ${forgedHash}, recomputed ${honestHash}`);
    expect(audit.stdout).toContain('3 result(s) from elsewhere recomputed, 1 mismatch(es)');
    // What is left is what was computed here: a second audit has nothing to do, a run is honest.
    const again = await runCli(['audit', r2.pipelinePath, '--cache', cache2], { cwd: v2 });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('nothing to audit');
    const after = await runInProcess(r2.pipelinePath, { cache: cache2 });
    expect(metricsHash(after.events)).toBe(honestHash);
  });

  it('--node and --fraction restrict what audit recomputes', async () => {
    const { bundle } = await forgedBundle();
    const dir = await makeTempDir('sieve-trust-frac-');
    const cache = join(dir, 'cache');
    const r = await importBundle({ store: new Store(cache), file: bundle, toDir: dir });
    const one = await runCli(['audit', r.pipelinePath, '--cache', cache, '--node', 'src'], { cwd: dir });
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toContain('1 result(s) from elsewhere recomputed, 0 mismatch(es)');
    const bad = await runCli(['audit', r.pipelinePath, '--cache', cache, '--fraction', '0'], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--fraction must be a number in (0, 1]');
  });

  it('a trusted bundle serves every pipeline', async () => {
    const { bundle, forgedHash } = await forgedBundle();
    const dir = await makeTempDir('sieve-trust-trusted-');
    const cache = join(dir, 'cache');
    await importBundle({ store: new Store(cache), file: bundle, toDir: join(dir, 'in'), trust: true });
    const own = await writePipeline(dir, linearPipeline());
    const run = await runInProcess(own, { cache, log: join(dir, 'run.log') });
    expect(metricsHash(run.events)).toBe(forgedHash); // the user said so
    expect(await executions(join(dir, 'run.log'))).toEqual([]);
  });

  it("pull binds records to the pipeline it pulled for; trusted_remotes in the user config lifts that", async () => {
    const a = await makeTempDir('sieve-trust-pull-a-');
    const path = await writePipeline(a, linearPipeline());
    expect((await runInProcess(path, { cache: join(a, 'cache') })).result.summary.ok).toBe(true);
    const remote = join(a, 'remote');
    expect((await runCli(['push', path, '--remote', remote, '--cache', join(a, 'cache')], { cwd: a })).exitCode).toBe(0);

    const b = await makeTempDir('sieve-trust-pull-b-');
    await mkdir(join(b, 'team'));
    await writeFile(join(b, 'team', 'pipeline.yaml'), await readFile(path));
    await writeFile(join(b, 'team', 'pipeline.lock'), await readFile(lockfilePath(path)));
    await writeFile(join(b, 'mine.yaml'), await readFile(path));
    const config = join(b, 'config.yaml');
    await writeFile(config, `remotes:\n  lab: { type: directory, path: ${JSON.stringify(remote)} }\n`);
    const env = { SIEVE_CONFIG: config };
    const pulled = await runCli(['pull', 'team/pipeline.yaml', '--remote', 'lab', '--cache', 'cache'], { cwd: b, env });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    const team = await runCli(['status', 'team/pipeline.yaml', '--cache', 'cache'], { cwd: b, env });
    expect(team.stdout).toContain('m: up to date (pulled from remote lab)');
    const mine = await runCli(['status', 'mine.yaml', '--cache', 'cache'], { cwd: b, env });
    expect(mine.stdout).toMatch(/src: stale\n {4}a result pulled from remote lab for .*team\/pipeline\.yaml is not used by this pipeline/);

    const c = await makeTempDir('sieve-trust-pull-c-');
    await writeFile(join(c, 'pipeline.yaml'), await readFile(path));
    await writeFile(join(c, 'pipeline.lock'), await readFile(lockfilePath(path)));
    await writeFile(join(c, 'mine.yaml'), await readFile(path));
    await writeFile(config, `remotes:\n  lab: { type: directory, path: ${JSON.stringify(remote)} }\ntrusted_remotes: [lab]\n`);
    expect((await runCli(['pull', 'pipeline.yaml', '--remote', 'lab', '--cache', 'cache'], { cwd: c, env })).exitCode).toBe(0);
    const trusted = await runCli(['status', 'mine.yaml', '--cache', 'cache'], { cwd: c, env });
    expect(trusted.stdout).toContain('m: up to date (pulled from remote lab (trusted))');
  });
});

describe('no code and no files from where they do not belong', () => {
  it('a plugin given as a URL is refused before it runs (data:, http:, file:)', async () => {
    const dir = await makeTempDir('sieve-trust-plugin-');
    const marker = join(dir, 'pwned');
    const code = `import('node:fs').then((fs) => fs.writeFileSync(${JSON.stringify(marker)}, 'x'))`;
    for (const spec of [`data:text/javascript,${code}`, 'http://example.invalid/p.mjs', `file://${join(dir, 'p.mjs')}`]) {
      const path = await writePipeline(dir, `name: p\nplugins: [${JSON.stringify(spec)}]\nnodes: {}\n`);
      const err = await planPipeline(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/plugins\.0: plugin .*URLs are not allowed; a plugin is a file relative to the pipeline or an installed package name/);
    }
    const cli = await runCli(['dag', 'pipeline.yaml'], { cwd: dir });
    expect(cli.exitCode).toBe(2);
    expect(cli.stderr).not.toMatch(/^\s+at .+[:(]\d+/m);
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(marker)).toBe(false);
  });

  it("import writes into the user's cache, never the bundled pipeline's `cache:`, and lists plugins and command nodes", async () => {
    const src = await makeTempDir('sieve-trust-imp-src-');
    const elsewhere = join(src, 'elsewhere');
    const path = await writePipeline(src, [
      'name: imp', `cache: ${JSON.stringify(elsewhere)}`, PLUGINS_LINE, 'nodes:',
      '  src: { type: test-source }',
      '  c: { type: command, params: { run: "echo hi > {outputs.o}", outputs: { o: { kind: file } } } }', '',
    ].join('\n'));
    expect((await runInProcess(path, { cache: join(src, 'cache') })).result.summary.ok).toBe(true);
    const bundle = join(src, 'imp.sieve.tar');
    await exportBundle({ store: new Store(join(src, 'cache')), pipelinePath: path, lockPath: lockfilePath(path), outFile: bundle, sieveVersion: 'test' });

    const dst = await makeTempDir('sieve-trust-imp-dst-');
    const config = join(dst, 'config.yaml');
    await writeFile(config, 'cache: mycache\n');
    const r = await runCli(['import', bundle, '--to', 'in'], { cwd: dst, env: { SIEVE_CONFIG: config } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`into ${join(dst, 'mycache')}`);
    expect(existsSync(elsewhere)).toBe(false);
    expect(r.stdout).toContain('the imported pipeline runs code of its own');
    expect(r.stdout).toContain('plugin /');
    expect(r.stdout).toContain('command node c: echo hi > {outputs.o}');
    expect(r.stdout).toContain(`the pipeline names \`cache: ${elsewhere}\``);
  });
});

describe('param paths never reach a prototype', () => {
  it('refuses __proto__, constructor and prototype in -p, --grid and the file, exit 2', async () => {
    const dir = await makeTempDir('sieve-trust-proto-');
    const path = await writePipeline(dir, linearPipeline());
    for (const p of ['scaled.__proto__.factor=5', 'scaled.constructor.x=1', 'scaled.prototype=1']) {
      const err = await planPipeline(path, { overrides: [p] }).catch((e: unknown) => e);
      expect(err, p).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/is not allowed in a param path/);
    }
    const grid = await planPipeline(path, { grid: ['scaled.__proto__.factor=1,2'] }).catch((e: unknown) => e);
    expect((grid as Error).message).toMatch(/"__proto__" is not allowed in a param path/);
    const inFile = await writePipeline(dir, linearPipeline().replace('params: { factor: 3 }', 'params: { factor: 3, __proto__: { delay_ms: 5 } }'), 'f.yaml');
    const err = await planPipeline(inFile).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/f\.yaml:\d+:\d+: nodes\.scaled\.params\.__proto__: "__proto__" is not allowed as a params key/);
    const cli = await runCli(['run', 'pipeline.yaml', '--cache', 'cache', '-p', 'scaled.__proto__.factor=5'], { cwd: dir });
    expect(cli.exitCode).toBe(2);
    expect(cli.stderr).toMatch(/command line: scaled\.__proto__\.factor \(from -p scaled\.__proto__\.factor=5\): "__proto__" is not allowed in a param path/);
    expect(cli.stderr).not.toMatch(/^\s+at .+[:(]\d+/m);
    expect(existsSync(join(dir, 'cache', 'actions'))).toBe(false);
  });
});
