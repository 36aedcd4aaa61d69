// A remote on a (shared, network) filesystem. Uploads go to `<root>/tmp/` and are renamed into
// place, so two teammates pushing at once each write whole files and the last rename wins with the
// same bytes; readers never see a partial object.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { HEX64, RemoteError, RemoteObjectError, objectKey, writeHashed, type ByteProgress, type FetchedObject, type Remote, type RemoteObjectInfo } from './remote.js';

export class DirectoryRemote implements Remote {
  constructor(readonly root: string) {}

  describe(): string {
    return this.root;
  }

  async connect(): Promise<void> {
    const s = await stat(this.root).catch(() => undefined);
    if (s && !s.isDirectory()) throw new RemoteError(this.root, 'exists but is not a directory');
    try {
      await mkdir(join(this.root, 'objects'), { recursive: true });
      await mkdir(join(this.root, 'tmp'), { recursive: true });
    } catch (e) {
      throw new RemoteError(this.root, `cannot create the remote layout: ${(e as Error).message}`);
    }
  }

  private path(hash: string): string {
    return join(this.root, objectKey(hash));
  }

  async sizes(hashes: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(
      hashes.map(async (h) => {
        // Whatever is there: a link or directory never has the expected size (so a push replaces it),
        // and is refused, by name, on download.
        const s = await lstat(this.path(h)).catch(() => undefined);
        if (s) out.set(h, s.isFile() ? s.size : -1);
      }),
    );
    return out;
  }

  async put(hash: string, localPath: string, size: number, onProgress?: ByteProgress, signal?: AbortSignal): Promise<void> {
    const tmp = join(this.root, 'tmp', `${hash.slice(0, 16)}-${randomBytes(6).toString('hex')}.part`);
    let written = 0;
    const count = new Transform({
      transform(chunk: Buffer, _e, done) {
        written += chunk.byteLength;
        onProgress?.(chunk.byteLength);
        done(null, chunk);
      },
    });
    try {
      await pipeline(createReadStream(localPath, { highWaterMark: 1 << 22 }), count, createWriteStream(tmp), { signal });
      if (written !== size) throw new RemoteObjectError(this.root, hash, `local file has ${written} bytes, ${size} expected`);
      const dest = this.path(hash);
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(hash: string, destPath: string, onProgress?: ByteProgress, signal?: AbortSignal): Promise<FetchedObject> {
    const src = this.path(hash);
    const s = await lstat(src).catch(() => undefined);
    if (!s) throw new RemoteObjectError(this.root, hash, 'not on the remote');
    // A link could point anywhere on the machine: only plain files are objects.
    if (!s.isFile()) throw new RemoteObjectError(this.root, hash, `${src} is not a regular file (a link or a directory)`);
    return writeHashed(createReadStream(src, { highWaterMark: 1 << 22 }), destPath, onProgress, signal);
  }

  async list(): Promise<RemoteObjectInfo[]> {
    const out: RemoteObjectInfo[] = [];
    const objects = join(this.root, 'objects');
    for (const prefix of (await readdir(objects).catch(() => [] as string[])).sort()) {
      const dir = join(objects, prefix);
      const ds = await lstat(dir);
      if (!ds.isDirectory()) {
        out.push({ name: prefix, size: ds.size, problem: `objects/${prefix} is not a directory` });
        continue;
      }
      for (const name of (await readdir(dir)).sort()) {
        const s = await lstat(join(dir, name));
        const hash = prefix + name;
        const problem = !s.isFile() ? 'not a regular file (a link or a directory)' : HEX64.test(hash) ? undefined : 'name is not a sha256 digest';
        out.push({ name: hash, size: s.size, problem });
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}
