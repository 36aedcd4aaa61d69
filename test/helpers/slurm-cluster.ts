// A real one-machine Slurm cluster for the Slurm tests: munged, slurmctld and slurmd from Debian's
// `slurm-wlm` and `munge`, each with its own key, socket, ports, state and logs in a temp dir, so it
// touches nothing of the machine's own configuration. `startSlurmCluster` returns undefined (with
// the reason in `slurmUnavailable`) when the binaries are missing, and throws when they are there
// but the cluster does not come up (a broken fixture must fail, not skip);
// `stop` cancels the cluster's jobs and ends exactly the daemons it started (by their pid files).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

export interface SlurmCluster {
  /** The temp dir holding the configuration, state and logs. */
  dir: string;
  /** The generated slurm.conf; every Slurm command needs `SLURM_CONF` set to it. */
  conf: string;
  /** The environment for Slurm commands (and `sieve`) talking to this cluster. */
  env: Record<string, string>;
  node: string;
  cpus: number;
  /** The daemons' logs, for a failing test's message. */
  logs(): string;
  stop(): Promise<void>;
}

const BINARIES = ['munged', 'mungekey', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel'];

function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', ...(process.env.PATH ?? '').split(':')]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Why the Slurm tests cannot run here, or undefined when they can try. */
export function slurmUnavailable(): string | undefined {
  const missing = BINARIES.filter((b) => !findBinary(b));
  if (missing.length > 0) return `Slurm/munge binaries not found (${missing.join(', ')}): install Debian's slurm-wlm and munge (.ci/run does)`;
  if (process.getuid?.() !== 0) return 'the one-machine Slurm cluster runs its daemons as root';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a running process (a zombie waiting to be reaped counts as ended). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is gone for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Starts the cluster; undefined when the binaries are missing (see `slurmUnavailable`). */
export async function startSlurmCluster(): Promise<SlurmCluster | undefined> {
  if (slurmUnavailable()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sieve-slurm-'));
  // munged wants its socket directory reachable by everyone and its key private.
  const mungeDir = join(dir, 'munge');
  for (const d of [mungeDir, join(dir, 'state'), join(dir, 'spool'), join(dir, 'log')]) mkdirSync(d, { recursive: true });
  chmodSync(dir, 0o711);
  chmodSync(mungeDir, 0o711);
  const pidFiles = { munged: join(mungeDir, 'munged.pid'), slurmctld: join(dir, 'slurmctld.pid'), slurmd: join(dir, 'slurmd.pid') };
  const node = hostname().split('.')[0];
  const cpus = availableParallelism();
  const memMb = Math.max(65_536, Math.floor(totalmem() / 2 ** 20));
  const conf = join(dir, 'slurm.conf');
  const env: Record<string, string> = { SLURM_CONF: conf };
  const logs = (): string =>
    ['slurmctld.log', 'slurmd.log']
      .map((f) => `--- ${f}\n${(existsSync(join(dir, 'log', f)) ? readFileSync(join(dir, 'log', f), 'utf8') : '').split('\n').slice(-30).join('\n')}`)
      .join('\n');

  const stop = async (): Promise<void> => {
    // Jobs first (their steps are not children of anything we hold), then the daemons we started.
    if (existsSync(conf) && readPid(pidFiles.slurmctld) !== undefined) {
      spawnSync(findBinary('scancel')!, ['--full', '--user', 'root'], { env: { ...process.env, ...env }, timeout: 10_000 });
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        const q = spawnSync(findBinary('squeue')!, ['-h', '-o', '%i'], { env: { ...process.env, ...env }, timeout: 5_000, encoding: 'utf8' });
        if (q.status !== 0 || q.stdout.trim() === '') break;
        await sleep(300);
      }
    }
    for (const name of ['slurmd', 'slurmctld', 'munged'] as const) {
      const pid = readPid(pidFiles[name]);
      if (pid === undefined || !processAlive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      const until = Date.now() + 10_000;
      while (processAlive(pid) && Date.now() < until) await sleep(100);
      if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    execFileSync(findBinary('mungekey')!, ['--create', `--keyfile=${join(mungeDir, 'munge.key')}`], { stdio: 'pipe' });
    execFileSync(
      findBinary('munged')!,
      [
        '--force', `--key-file=${join(mungeDir, 'munge.key')}`, `--socket=${join(mungeDir, 'munge.sock')}`,
        `--pid-file=${pidFiles.munged}`, `--log-file=${join(mungeDir, 'munged.log')}`, `--seed-file=${join(mungeDir, 'munged.seed')}`,
      ],
      { stdio: 'pipe' },
    );
    writeFileSync(
      conf,
      [
        'ClusterName=sievetest',
        `SlurmctldHost=${node}`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${join(mungeDir, 'munge.sock')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        // Cores are allocated, memory is not (a hint of 2G must not keep a small CI machine's jobs
        // waiting); the node's declared memory is taken as configured, not probed.
        'SelectTypeParameters=CR_Core',
        'SlurmdParameters=config_overrides',
        'SchedulerType=sched/backfill',
        // Dependent jobs start as soon as their dependencies end, not at the next minute's pass.
        'SchedulerParameters=sched_interval=1,defer_batch=0',
        'MpiDefault=none',
        'ReturnToService=2',
        `StateSaveLocation=${join(dir, 'state')}`,
        `SlurmdSpoolDir=${join(dir, 'spool')}`,
        `SlurmctldPidFile=${pidFiles.slurmctld}`,
        `SlurmdPidFile=${pidFiles.slurmd}`,
        `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
        // No slurmdbd: `sacct` has nothing to say, so finished jobs are seen with `scontrol show job`
        // for MinJobAge seconds (and in the job completion file).
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/filetxt',
        `JobCompLoc=${join(dir, 'log', 'jobcomp.txt')}`,
        'MinJobAge=600',
        'GresTypes=gpu',
        `NodeName=${node} CPUs=${cpus} RealMemory=${memMb} State=UNKNOWN`,
        `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    const opts = { stdio: 'pipe' as const, env: { ...process.env, ...env } };
    execFileSync(findBinary('slurmctld')!, ['-f', conf], opts);
    await waitFor('slurmctld', () => spawnSync(findBinary('scontrol')!, ['ping'], { ...opts, encoding: 'utf8' }).stdout.includes('UP'), 20_000);
    execFileSync(findBinary('slurmd')!, ['-f', conf], opts);
    await waitFor(
      `node ${node} to be idle`,
      () => /State=IDLE/.test(spawnSync(findBinary('scontrol')!, ['show', 'node', node], { ...opts, encoding: 'utf8' }).stdout),
      30_000,
    );
    return { dir, conf, env, node, cpus, logs, stop };
  } catch (e) {
    const detail = logs();
    await stop();
    throw new Error(`the test Slurm cluster did not start: ${(e as Error).message}\n${detail}`);
  }
}
