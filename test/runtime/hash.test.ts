import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileHasher, canonicalJson, sha256 } from '../../src/runtime/keys/hash.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('hashing', () => {
  it('canonical JSON sorts keys at every depth and is independent of insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 0.1 } })).toBe('{"a":{"c":0.1,"d":[1,2]},"b":1}');
    expect(canonicalJson({ a: { c: 0.1, d: [1, 2] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [1, 2], c: 0.1 } }));
  });

  it('FileHasher persists its memo across processes and uses it only while size, mtime, ctime and inode are unchanged', async () => {
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

    // An edit within the same second that keeps the size and restores the mtime (cp -p, touch -r,
    // a checkout) is still seen: the ctime moved, and a hash taken so close to it is never trusted.
    await writeFile(file, 'bbbb');
    await utimes(file, mtime, mtime);
    const second = new FileHasher(state);
    await second.load();
    expect((await second.hash(file)).sha256).toBe(sha256('bbbb'));
    await second.save();

    // An entry taken well after the file's last change is used as is (here: one that lies, to see it)...
    const memo = JSON.parse(await readFile(state, 'utf8')) as Record<string, { hashedNs: string; ctimeNs: string; sha256: string }>;
    memo[file].hashedNs = String(BigInt(memo[file].ctimeNs) + 10_000_000_000n);
    memo[file].sha256 = 'f'.repeat(64);
    await writeFile(state, JSON.stringify(memo));
    const third = new FileHasher(state);
    await third.load();
    expect((await third.hash(file)).sha256).toBe('f'.repeat(64));
    // ...until anything about the file changes, even only its ctime.
    await utimes(file, mtime, mtime);
    expect((await third.hash(file)).sha256).toBe(sha256('bbbb'));
    // Without a state path nothing persists.
    const fourth = new FileHasher();
    await fourth.load();
    expect((await fourth.hash(file)).sha256).toBe(sha256('bbbb'));
  });
});
