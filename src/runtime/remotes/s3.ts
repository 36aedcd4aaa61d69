// A remote in S3-compatible object storage (AWS, MinIO, R2, ...). The SDK is imported on first use
// so commands that never talk to S3 (`sieve run`) do not pay for loading it. Objects live at
// `<prefix>/objects/<2 hex>/<62 hex>`; uploads go through lib-storage's Upload, which switches to
// multipart above `partSize` and never leaves a partial object visible.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { HEX64, RemoteError, RemoteObjectError, objectKey, writeHashed, type ByteProgress, type FetchedObject, type Remote, type RemoteObjectInfo } from './remote.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3RemoteOptions {
  bucket: string;
  prefix?: string;
  /** e.g. http://127.0.0.1:9000 for MinIO; AWS when unset (or $AWS_ENDPOINT_URL). */
  endpoint?: string;
  region?: string;
  /** Path-style URLs (bucket in the path), which most self-hosted servers need. */
  forcePathStyle?: boolean;
  /** Multipart part size in bytes (at least 5 MiB); objects above it are uploaded in parts. */
  partSize?: number;
  /** Parts of one object uploaded at once. */
  queueSize?: number;
  /** Named profile of ~/.aws/config; otherwise the usual chain (env, profile, SSO, instance role). */
  profile?: string;
  /** Explicit credentials (programmatic use and tests); the credential chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request, retries included (SDK default 3). */
  maxAttempts?: number;
}

type Sdk = typeof import('@aws-sdk/client-s3');

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export class S3Remote implements Remote {
  private sdk: Sdk | undefined;
  private client: S3Client | undefined;
  private readonly prefix: string;
  readonly partSize: number;

  constructor(readonly opts: S3RemoteOptions) {
    if (!opts.bucket) throw new RemoteError('s3://', 'no bucket given');
    this.prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.partSize = Math.max(MIN_PART_SIZE, opts.partSize ?? 16 * 1024 * 1024);
  }

  describe(): string {
    const where = `s3://${this.opts.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    return this.opts.endpoint ? `${where} at ${this.opts.endpoint}` : where;
  }

  private key(hash: string): string {
    return this.prefix ? `${this.prefix}/${objectKey(hash)}` : objectKey(hash);
  }

  private async ensureClient(): Promise<{ sdk: Sdk; client: S3Client }> {
    if (!this.sdk || !this.client) {
      // The SDK prints a 9-line notice on every command under Node < 22 that its releases after
      // January 2027 will need Node 22; Sieve supports Node ≥ 20.9 and pins the SDK: not shown
      // unless the user asks for it (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false).
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      this.sdk = await import('@aws-sdk/client-s3');
      this.client = new this.sdk.S3Client({
        endpoint: this.opts.endpoint,
        region: this.opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        forcePathStyle: this.opts.forcePathStyle ?? Boolean(this.opts.endpoint),
        credentials: this.opts.credentials,
        profile: this.opts.profile,
        maxAttempts: this.opts.maxAttempts,
        // Content is verified end to end by sha256; the newer default trailing checksums are not
        // understood by many S3-compatible servers.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    }
    return { sdk: this.sdk, client: this.client };
  }

  /** Turns SDK errors into messages that name the bucket and endpoint and say what to fix. */
  private explain(e: unknown, what: string): RemoteError {
    const err = e as AwsLikeError & { cause?: { code?: string } };
    const status = err.$metadata?.httpStatusCode;
    const code = err.code ?? err.cause?.code;
    const name = err.name ?? '';
    const endpoint = this.opts.endpoint ?? 'AWS';
    let detail: string;
    if (name === 'NoSuchBucket' || (what === 'check the bucket' && status === 404)) {
      detail = `bucket "${this.opts.bucket}" does not exist at ${endpoint}`;
    } else if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken'].includes(name) || status === 403) {
      detail = `credentials refused by ${endpoint} for bucket "${this.opts.bucket}" (${name || `HTTP ${status}`}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile`;
    } else if (name === 'CredentialsProviderError') {
      detail = 'no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or `profile:` in the remote config';
    } else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'ETIMEDOUT') {
      detail = `cannot reach ${endpoint} (${code})`;
    } else {
      detail = `${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? String(e)}`;
    }
    return new RemoteError(this.describe(), `${what}: ${detail}`);
  }

  async connect(): Promise<void> {
    const { sdk, client } = await this.ensureClient();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch (e) {
      throw this.explain(e, 'check the bucket');
    }
  }

  async sizes(hashes: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // One listing is cheaper than many HEADs once the request set is large.
    if (hashes.length > 64) {
      const wanted = new Set(hashes);
      for (const o of await this.list()) if (!o.problem && wanted.has(o.name)) out.set(o.name, o.size);
      return out;
    }
    const { sdk, client } = await this.ensureClient();
    const limit = pLimit(16);
    await Promise.all(
      hashes.map((h) =>
        limit(async () => {
          try {
            const head = await client.send(new sdk.HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(h) }));
            out.set(h, head.ContentLength ?? 0);
          } catch (e) {
            if ((e as AwsLikeError).$metadata?.httpStatusCode !== 404) throw this.explain(e, `look up ${h.slice(0, 12)}`);
          }
        }),
      ),
    );
    return out;
  }

  async put(hash: string, localPath: string, size: number, onProgress?: ByteProgress, signal?: AbortSignal): Promise<void> {
    const { client } = await this.ensureClient();
    const { Upload } = await import('@aws-sdk/lib-storage');
    const abortController = new AbortController();
    const onAbort = (): void => abortController.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client,
      params: { Bucket: this.opts.bucket, Key: this.key(hash), Body: createReadStream(localPath, { highWaterMark: 1 << 22 }), ContentLength: size },
      partSize: this.partSize,
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
      abortController,
    });
    let reported = 0;
    upload.on('httpUploadProgress', (p) => {
      const loaded = p.loaded ?? 0;
      if (loaded > reported) onProgress?.(loaded - reported);
      reported = Math.max(reported, loaded);
    });
    try {
      await upload.done();
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      throw this.explain(e, `upload ${hash.slice(0, 12)}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (reported < size) onProgress?.(size - reported);
  }

  async get(hash: string, destPath: string, onProgress?: ByteProgress, signal?: AbortSignal): Promise<FetchedObject> {
    const { sdk, client } = await this.ensureClient();
    let body: Readable;
    try {
      const r = await client.send(new sdk.GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(hash) }), { abortSignal: signal });
      body = r.Body as Readable;
    } catch (e) {
      const err = e as AwsLikeError;
      if (err.name === 'NoSuchKey' || (err.$metadata?.httpStatusCode === 404 && err.name !== 'NoSuchBucket')) {
        throw new RemoteObjectError(this.describe(), hash, 'not on the remote');
      }
      throw this.explain(e, `download ${hash.slice(0, 12)}`);
    }
    return writeHashed(body, destPath, onProgress, signal);
  }

  async list(): Promise<RemoteObjectInfo[]> {
    const { sdk, client } = await this.ensureClient();
    const base = this.prefix ? `${this.prefix}/objects/` : 'objects/';
    const out: RemoteObjectInfo[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: base, ContinuationToken: token }));
      } catch (e) {
        throw this.explain(e, 'list objects');
      }
      for (const o of page.Contents ?? []) {
        const rest = (o.Key ?? '').slice(base.length);
        const m = /^([0-9a-f]{2})\/([0-9a-f]{62})$/.exec(rest);
        const name = m ? m[1] + m[2] : rest;
        out.push({ name, size: o.Size ?? 0, problem: m && HEX64.test(name) ? undefined : `key ${o.Key} does not fit the objects/<2 hex>/<62 hex> layout` });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async close(): Promise<void> {
    this.client?.destroy();
    this.client = undefined;
  }
}
