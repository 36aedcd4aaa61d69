import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileHasher, canonicalJson, sha256 } from '../../src/runtime/hash.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('hashing', () => {
  it('canonical JSON sorts keys at every depth and is independent of insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 0.1 } })).toBe('{"a":{"c":0.1,"d":[1,2]},"b":1}');
    expect(canonicalJson({ a: { c: 0.1, d: [1, 2] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [1, 2], c: 0.1 } }));
  });

  it('FileHasher persists its memo across processes and re-hashes when size, mtime or inode change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sieve-hash-'));
    dirs.push(dir);
    const file = join(dir, 'data.bin');
    const state = join(dir, 'state', 'file-hashes.json');
    await writeFile(file, 'aaaa');
    const mtime = new Date('2026-01-01T00:00:00Z');
    await utimes(file, mtime, mtime);
    const first = new FileHasher(state);
    await first.load();
    expect((await first.hash(file)).sha256).toBe(sha256('aaaa'));
    await first.save();

    // Same size and mtime, other content: a fresh hasher trusts the persisted memo (no re-read)...
    await writeFile(file, 'bbbb');
    await utimes(file, mtime, mtime);
    const second = new FileHasher(state);
    await second.load();
    expect((await second.hash(file)).sha256).toBe(sha256('aaaa'));
    // ...and a new mtime makes it read the file again.
    await utimes(file, new Date(mtime.getTime() + 5000), new Date(mtime.getTime() + 5000));
    expect((await second.hash(file)).sha256).toBe(sha256('bbbb'));
    // Without a state path nothing persists.
    const third = new FileHasher();
    await third.load();
    expect((await third.hash(file)).sha256).toBe(sha256('bbbb'));
  });
});
