// The worker pool's settings and messages, without a Redis: queue URLs (credentials never shown),
// the `executor: {type: bullmq}` section, and the check a worker makes of what it takes off the queue.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdOf, parseRedisUrl, queueUrl, redactRedisUrl, redisOptions } from '../../src/runtime/execution/bullmq/connection.js';
import { TASK_MESSAGE_FORMAT, checkTaskMessage, type TaskMessage } from '../../src/runtime/execution/bullmq/message.js';
import { parseExecutorSpec, resolveExecutor } from '../../src/runtime/execution/executor-config.js';
import { UsageError } from '../../src/runtime/errors.js';
import { TerminalReporter } from '../../src/reporters/terminal.js';
import { readUserConfig } from '../../src/runtime/user-config.js';
import { removeTemp, tempDir } from '../helpers/temp.js';

const KEY = 'a'.repeat(64);

describe('queue URLs', () => {
  const saved = process.env.SIEVE_REDIS_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.SIEVE_REDIS_URL;
    else process.env.SIEVE_REDIS_URL = saved;
  });

  it('parses host, port, database and credentials; redacts them for printing', () => {
    expect(parseRedisUrl('redis://alice:s%40cret@queue.lab:6380/3')).toEqual({ host: 'queue.lab', port: 6380, db: 3, username: 'alice', password: 's@cret', tls: false });
    expect(parseRedisUrl('rediss://:pw@h')).toEqual({ host: 'h', port: 6379, db: 0, password: 'pw', tls: true });
    expect(redactRedisUrl('redis://alice:s%40cret@queue.lab:6380/3')).toBe('redis://***@queue.lab:6380/3');
    expect(redactRedisUrl('redis://queue.lab/1')).toBe('redis://queue.lab/1');
    const opts = redisOptions(parseRedisUrl('redis://:pw@h:1/2'));
    expect(opts).toMatchObject({ host: 'h', port: 1, db: 2, password: 'pw', maxRetriesPerRequest: null });
  });

  it('a bad URL is a usage error that does not print the password', () => {
    expect(() => parseRedisUrl('http://u:topsecret@h/0')).toThrow(UsageError);
    expect(() => parseRedisUrl('http://u:topsecret@h/0')).toThrow('not a Redis URL: http://***@h/0 (expected redis:// or rediss://)');
    expect(() => parseRedisUrl('redis://u:topsecret@h/zero')).toThrow('redis://***@h/zero: the database must be a number, got "zero"');
  });

  it('--queue, else $SIEVE_REDIS_URL, else a usage error', () => {
    delete process.env.SIEVE_REDIS_URL;
    expect(() => queueUrl(undefined, 'sieve worker')).toThrow(/sieve worker needs a Redis URL: --queue redis:\/\/HOST:PORT\/DB or \$SIEVE_REDIS_URL/);
    process.env.SIEVE_REDIS_URL = 'redis://env:1/0';
    expect(queueUrl(undefined, 'x')).toBe('redis://env:1/0');
    expect(queueUrl('redis://flag:1/0', 'x')).toBe('redis://flag:1/0');
  });

  it('one job id per instance key', () => {
    expect(jobIdOf(KEY)).toBe(`key-${KEY}`);
  });
});

describe('executor: {type: bullmq}', () => {
  it('parses queue, remote and retries; --executor bullmq takes the section that describes it', () => {
    const spec = parseExecutorSpec({ type: 'bullmq', queue: 'redis://h:1/0', remote: 'team', retries: 3 }, 'p.yaml');
    expect(spec).toEqual({ type: 'bullmq', queue: 'redis://h:1/0', remote: 'team', retries: 3 });
    expect(resolveExecutor({ flag: 'bullmq', pipeline: { type: 'local' }, user: spec })).toEqual(spec);
    expect(resolveExecutor({ flag: 'bullmq' })).toEqual({ type: 'bullmq' });
    expect(() => parseExecutorSpec({ type: 'bullmq', partition: 'x' }, 'p.yaml')).toThrow(/p\.yaml: unknown bullmq executor setting\(s\) partition/);
    expect(() => parseExecutorSpec({ type: 'bullmq', retries: -1 }, 'p.yaml')).toThrow(/executor\.retries must be a whole number/);
  });

  it('the user config may name the pool', async () => {
    const dir = tempDir();
    try {
      const path = join(dir, 'config.yaml');
      writeFileSync(path, 'executor: {type: bullmq, queue: "redis://queue.lab:6379/2", remote: team}\n');
      expect((await readUserConfig(path)).executor).toEqual({ type: 'bullmq', queue: 'redis://queue.lab:6379/2', remote: 'team' });
    } finally {
      removeTemp();
    }
  });
});

describe('task messages', () => {
  const message = (): TaskMessage => ({
    format: TASK_MESSAGE_FORMAT, version: 1, sieveVersion: '0.1.0', pipeline: '/p/x.yaml', instanceId: 'a#0', nodeId: 'a',
    node: { type: 'test-source', version: '1' }, params: { n: 4 }, seed: 1, baseDir: '/p', inputs: { x: { hash: KEY, size: 3, kind: 'json' } },
    outputs: {}, key: KEY,
  });

  it('a well-formed description passes; code or a malformed field does not', () => {
    expect(checkTaskMessage(message())).toBeUndefined();
    expect(checkTaskMessage({ ...message(), format: 'other' })).toMatch(/format/);
    expect(checkTaskMessage({ ...message(), key: 'not-a-key' })).toBe('key: expected a sha256 hex digest');
    expect(checkTaskMessage({ ...message(), node: { type: 'x' } })).toBe('node: expected {type, version}');
    expect(checkTaskMessage({ ...message(), inputs: { x: { hash: '../etc/passwd', size: 1 } } })).toBe('inputs.x: expected {hash, size, kind}');
    expect(checkTaskMessage('run me')).toBe('not an object');
  });

  it('carries no module path and no credential', () => {
    const text = JSON.stringify(message());
    expect(text).not.toMatch(/module|url|password|secret/i);
  });
});

describe('progress view', () => {
  it('names the worker that runs a node, and that ran it', () => {
    let out = '';
    const r = new TerminalReporter({ out: { write: (s: string) => (out += s) }, verbose: false, pointCount: 1 });
    const node = { instanceId: 'a#0', nodeId: 'a', type: 't', points: ['default'] };
    r.onEvent({ event: 'run-start', runId: 'r', pipeline: 'p', file: '/p.yaml', points: ['default'], nodes: [node], jobs: 1, time: '' });
    r.onEvent({ event: 'node-start', node, key: KEY });
    r.onEvent({ event: 'node-where', node, where: 'gpu-box:123' });
    r.onEvent({ event: 'node-end', node, status: 'ran', ms: 5, key: KEY });
    r.onEvent({ event: 'run-end', summary: { runId: 'r', pipeline: 'p', ok: true, counts: { ran: 1, cached: 0, failed: 0, skipped: 0 }, ms: 5, failures: [] } });
    expect(out).toContain('a (t) on gpu-box:123\n');
    expect(out).toMatch(/✓ a \(t\) ran in .* on gpu-box:123/);
  });

  it('shows a node queued for a worker until one takes it, and counts its time from then', () => {
    const r = new TerminalReporter({ out: { write: () => undefined }, verbose: false, pointCount: 1 });
    const a = { instanceId: 'a#0', nodeId: 'a', type: 't', points: ['default'] };
    const b = { instanceId: 'b#0', nodeId: 'b', type: 't', points: ['default'] };
    r.onEvent({ event: 'run-start', runId: 'r', pipeline: 'p', file: '/p.yaml', points: ['default'], nodes: [a, b], jobs: 1, time: '' });
    r.onEvent({ event: 'node-start', node: a, key: KEY });
    r.onEvent({ event: 'node-queued', node: a });
    const size = { columns: 80, rows: 10 };
    expect(r.liveBlock(size).map(stripVTControlCharacters)).toEqual(['  1 waiting · 1 queued · 0 running · 0/2 done']);
    r.onEvent({ event: 'node-where', node: a, where: 'w1' });
    const block = r.liveBlock(size).map(stripVTControlCharacters);
    expect(block[0]).toMatch(/a \(t\) .* on w1$/);
    expect(block[1]).toBe('  1 waiting · 1 running · 0/2 done');
  });
});
