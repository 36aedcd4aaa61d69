// Writing a file outside the store atomically: to a temp file, then a rename, so a reader (or a
// teammate's git) never sees half a lockfile, state file or bundle. The temp file goes in `tmpDir`
// when given (the cache's tmp/, so nothing is ever left beside a pipeline), else beside the file;
// its name carries the writer's pid, so the next run can remove those of a killed process.
import { randomBytes } from 'node:crypto';
import { readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, data: string | Uint8Array, tmpDir?: string): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  if (tmpDir !== undefined) {
    const tmp = join(tmpDir, `${tag}.part`);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
      return;
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      // Another filesystem (EXDEV) or no tmp/ yet: write beside the file instead.
      if (!['EXDEV', 'ENOENT'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    }
  }
  const tmp = `${path}.${tag}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Whether process `pid` is alive on this machine. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files `writeFileAtomic` left beside `path` when its process was killed: those
 * of processes that are gone, and unnamed older ones (an hour) from before temp names had a pid.
 */
export async function removeStaleSiblings(path: string): Promise<number> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const tag = name.slice(prefix.length, -'.tmp'.length);
    const withPid = /^(\d+)-[0-9a-f]{8}$/.exec(tag);
    let stale = false;
    if (withPid) stale = !processAlive(Number(withPid[1]));
    else if (/^[0-9a-f]{8}$/.test(tag)) stale = Date.now() - ((await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? Date.now()) > 3_600_000;
    if (stale && (await unlink(join(dir, name)).then(() => true, () => false))) removed++;
  }
  return removed;
}
