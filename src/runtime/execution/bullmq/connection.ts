// Where the task queue lives: a Redis URL (redis://[user:password@]host:port/db, or rediss:// for
// TLS) from --queue or $SIEVE_REDIS_URL. Its credentials go to the Redis client and nowhere else:
// every message, log line and record names the queue by its redacted form.
import type { RedisOptions } from 'bullmq';
import { UsageError } from '../../errors.js';

/** The BullMQ queue every coordinator and worker of one Redis database share. */
export const QUEUE_NAME = 'sieve-tasks';

export interface RedisLocation {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/** The URL `--queue` names, else $SIEVE_REDIS_URL; a usage error when neither is set. */
export function queueUrl(flag: string | undefined, what: string): string {
  const url = flag ?? process.env.SIEVE_REDIS_URL;
  if (!url) throw new UsageError(`${what} needs a Redis URL: --queue redis://HOST:PORT/DB or $SIEVE_REDIS_URL`);
  return url;
}

/** Parses a Redis URL; the error names the URL redacted, never its password. */
export function parseRedisUrl(url: string): RedisLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`not a Redis URL: ${redactRedisUrl(url)} (expected redis://[user:password@]host:port/db)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(`not a Redis URL: ${redactRedisUrl(url)} (expected redis:// or rediss://)`);
  }
  const dbText = u.pathname.replace(/^\//, '') || '0';
  const db = Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`${redactRedisUrl(url)}: the database must be a number, got "${dbText}"`);
  const port = u.port ? Number(u.port) : 6379;
  return {
    host: u.hostname || '127.0.0.1', port, db, tls: u.protocol === 'rediss:',
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** The URL as it may be printed: user and password replaced by `***`. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@');
}

/**
 * Connection options for BullMQ: reconnect forever (a restarted Redis is waited for, not an error)
 * and never give up a command while disconnected.
 */
export function redisOptions(loc: RedisLocation): RedisOptions {
  return {
    host: loc.host, port: loc.port, db: loc.db,
    ...(loc.username ? { username: loc.username } : {}),
    ...(loc.password ? { password: loc.password } : {}),
    ...(loc.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(100 + times * 100, 2000),
  };
}

/** A BullMQ job id for an instance key: one job per key, whoever enqueues it. */
export function jobIdOf(key: string): string {
  return `key-${key}`;
}
