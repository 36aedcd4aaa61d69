import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir, utimes } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DownloadError, downloadDir, downloadFile, downloadPath } from '../../src/io/download.js';

const CONTENT = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) % 251));
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const WRONG = '0'.repeat(64);

let server: Server;
let base: string;
const hits = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/model.bin') {
      res.writeHead(200, { 'content-length': String(CONTENT.length) });
      // Several chunks so progress is reported more than once.
      for (let i = 0; i < CONTENT.length; i += 16_384) res.write(CONTENT.subarray(i, i + 16_384));
      res.end();
    } else if (path === '/chunked.bin') {
      res.writeHead(200); // no content-length: the total is unknown
      res.end(CONTENT);
    } else if (path === '/moved.bin') {
      res.writeHead(302, { location: '/model.bin' });
      res.end();
    } else {
      res.writeHead(404);
      res.end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sieve-download-'));
  hits.clear();
  return async () => rm(dir, { recursive: true, force: true });
});

describe('downloadFile', () => {
  it('downloads, verifies and places the file under <dir>/<sha256>/<name>', async () => {
    const path = await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir });
    expect(path).toBe(join(dir, SHA, 'model.bin'));
    expect(Buffer.compare(await readFile(path), CONTENT)).toBe(0);
    expect(existsSync(`${path}.verified`)).toBe(true);
    // No temporary files are left beside it.
    expect((await readdir(join(dir, SHA))).sort()).toEqual(['model.bin', 'model.bin.verified']);
  });

  it('reuses a verified file without a second request', async () => {
    await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir });
    const again = await downloadFile({ url: `${base}/model.bin`, sha256: SHA.toUpperCase(), dir });
    expect(again).toBe(join(dir, SHA, 'model.bin'));
    expect(hits.get('/model.bin')).toBe(1);
  });

  it('accepts a file placed by hand (no marker) after hashing it', async () => {
    const path = downloadPath({ url: `${base}/model.bin`, sha256: SHA, dir });
    await mkdir(join(dir, SHA), { recursive: true });
    await writeFile(path, CONTENT);
    expect(await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir })).toBe(path);
    expect(hits.get('/model.bin')).toBeUndefined();
    expect(existsSync(`${path}.verified`)).toBe(true);
  });

  it('replaces a file whose content changed after verification', async () => {
    const path = await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir });
    await writeFile(path, Buffer.from('corrupted'));
    await utimes(path, new Date(), new Date(Date.now() + 5000));
    await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir });
    expect(hits.get('/model.bin')).toBe(2);
    expect(Buffer.compare(await readFile(path), CONTENT)).toBe(0);
  });

  it('rejects a wrong checksum, naming URL and both hashes, and keeps nothing', async () => {
    const err = await downloadFile({ url: `${base}/model.bin`, sha256: WRONG, dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    const message = (err as Error).message;
    expect(message).toContain(`${base}/model.bin`);
    expect(message).toContain(WRONG);
    expect(message).toContain(SHA);
    expect(await readdir(join(dir, WRONG))).toEqual([]);
  });

  it('reports HTTP errors with the place to put the file', async () => {
    const err = await downloadFile({ url: `${base}/missing.bin`, sha256: SHA, dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toContain('HTTP 404');
    expect((err as Error).message).toContain(join(dir, SHA, 'missing.bin'));
  });

  it('explains what to do when the server cannot be reached', async () => {
    // Bind then close a server to get a port nobody listens on.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/weights.onnx`;
    const err = await downloadFile({ url, sha256: SHA, dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).toContain(
      `download ${url} on a connected machine and place it at ${join(dir, SHA, 'weights.onnx')}, sha256 ${SHA}`,
    );
  });

  it('follows redirects and honours fileName', async () => {
    const path = await downloadFile({ url: `${base}/moved.bin`, sha256: SHA, dir, fileName: 'vision.onnx' });
    expect(path).toBe(join(dir, SHA, 'vision.onnx'));
    expect(hits.get('/moved.bin')).toBe(1);
    expect(hits.get('/model.bin')).toBe(1);
    expect(Buffer.compare(await readFile(path), CONTENT)).toBe(0);
  });

  it('reports progress with the total when known, undefined otherwise', async () => {
    const known: Array<[number, number | undefined]> = [];
    await downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir, onProgress: (r, t) => known.push([r, t]) });
    expect(known.length).toBeGreaterThan(1);
    expect(known.at(-1)).toEqual([CONTENT.length, CONTENT.length]);
    for (let i = 1; i < known.length; i++) expect(known[i][0]).toBeGreaterThan(known[i - 1][0]);

    const unknown: Array<[number, number | undefined]> = [];
    await downloadFile({ url: `${base}/chunked.bin`, sha256: SHA, dir, onProgress: (r, t) => unknown.push([r, t]) });
    expect(unknown.at(-1)).toEqual([CONTENT.length, undefined]);
  });

  it('copies file:// URLs with the same verification', async () => {
    const source = join(dir, 'source.bin');
    await writeFile(source, CONTENT);
    const path = await downloadFile({ url: pathToFileURL(source).href, sha256: SHA, dir: join(dir, 'cache') });
    expect(Buffer.compare(await readFile(path), CONTENT)).toBe(0);
    const missing = await downloadFile({ url: pathToFileURL(join(dir, 'nope.bin')).href, sha256: SHA, dir }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DownloadError);
  });

  it('rejects a malformed sha256 before any request', async () => {
    await expect(downloadFile({ url: `${base}/model.bin`, sha256: 'abc', dir })).rejects.toThrow(/64 hex digits/);
    expect(hits.size).toBe(0);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(downloadFile({ url: `${base}/model.bin`, sha256: SHA, dir, signal: controller.signal })).rejects.toThrow();
    expect(existsSync(join(dir, SHA, 'model.bin'))).toBe(false);
  });
});

describe('the download folder', () => {
  it('is $SIEVE_DOWNLOAD_DIR, else ~/.cache/sieve/downloads; the suite points it at its own temp dir', () => {
    const saved = process.env.SIEVE_DOWNLOAD_DIR;
    expect(saved && saved.startsWith(process.env.SIEVE_TEST_TMPDIR ?? '//')).toBe(true);
    try {
      process.env.SIEVE_DOWNLOAD_DIR = '/somewhere/else';
      expect(downloadDir()).toBe('/somewhere/else');
      expect(downloadPath({ url: 'http://h/x/model.bin', sha256: SHA })).toBe(join('/somewhere/else', SHA, 'model.bin'));
      delete process.env.SIEVE_DOWNLOAD_DIR;
      expect(downloadDir()).toBe(join(homedir(), '.cache', 'sieve', 'downloads'));
    } finally {
      process.env.SIEVE_DOWNLOAD_DIR = saved;
    }
  });
});
