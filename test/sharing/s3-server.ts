// A local S3-compatible server (s3rver, a dev dependency) on loopback for the S3 remote tests and
// the sharing benchmark. It supports multipart uploads; it checks the access key id but not SigV4
// signatures. A small recording proxy in front lets tests see which S3 calls were made.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const S3_KEY = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

export interface LocalS3 {
  endpoint: string;
  port: number;
  /** "METHOD /path?query" of every request that went through. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startLocalS3(buckets: string[], port = 0): Promise<LocalS3> {
  // s3rver ships no type declarations: import it by a name TypeScript does not resolve.
  const moduleName = 's3rver';
  const { default: S3rver } = (await import(moduleName)) as { default: S3rverCtor };
  const directory = await mkdtemp(join(tmpdir(), 'sieve-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const addr = await server.run();
  const requests: string[] = [];
  const proxy: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = request({ host: '127.0.0.1', port: addr.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((res) => proxy.listen(port, '127.0.0.1', res));
  const proxyPort = (proxy.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${proxyPort}`,
    port: proxyPort,
    requests,
    stop: async () => {
      await new Promise<void>((res) => proxy.close(() => res()));
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
