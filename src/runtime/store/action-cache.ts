// The action cache: what each node key produced, and the log of its latest execution. Layout under
// the cache directory:
//   actions/<2 hex>/<key>.json the outputs a node key produced (written after all its objects)
//   logs/<2 hex>/<key>.log     the log lines of the latest execution under that key
// Records stay on the machine that computed or imported them: a tiered store shares objects, never
// records (see the trust rules below and the README's "Trust model").
import { readFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hashJson } from '../keys/hash.js';
import type { Json } from '../tensor.js';
import { HEX64, listTwoLevel, type ObjectRef } from './object-store.js';

export interface ExternalDepRecord {
  name: string;
  /** Relative to the pipeline's directory where possible, so lockfiles travel. */
  path: string;
  sha256: string;
  size: number;
}

/**
 * Where an action record came from. Objects are checked by their hash wherever they come from, but
 * a record (key → outputs) cannot be checked without recomputing it: one that arrived from a bundle
 * or a remote is used only for the pipeline file it arrived with, unless its source is trusted.
 */
export type ActionOrigin =
  | { kind: 'local' }
  | {
      kind: 'bundle' | 'remote';
      /** The bundle's sha256, or the remote's name (or its description when it has no name). */
      source: string;
      /** Absolute path of the pipeline file it arrived with. */
      pipeline: string;
      /** The user trusts the source (`--trust`, `trusted_remotes`): usable by any pipeline. */
      trusted?: boolean;
    };

export interface ActionRecord {
  key: string;
  /** Absent in records this machine computed (and in records from before origins were kept). */
  origin?: ActionOrigin;
  type: string;
  version: string;
  outputs: Record<string, ObjectRef>;
  deps: ExternalDepRecord[];
  notes: Record<string, Json>;
  durationMs: number;
  /** sha256 of the record's canonical JSON without this field: a record edited on disk is not used. */
  digest?: string;
}

/** "computed here", "imported from bundle 3f2a…", "pulled from remote team". */
export function describeOrigin(origin: ActionOrigin | undefined): string {
  if (!origin || origin.kind === 'local') return 'computed here';
  const what = origin.kind === 'bundle' ? `imported from bundle ${origin.source.slice(0, 12)}` : `pulled from remote ${origin.source}`;
  return origin.trusted ? `${what} (trusted)` : what;
}

/** Whether a record may serve a cache hit for the pipeline file at `pipelinePath`. */
export function usableFor(record: ActionRecord, pipelinePath: string): boolean {
  const o = record.origin;
  return !o || o.kind === 'local' || o.trusted === true || o.pipeline === pipelinePath;
}

/** The digest an action record carries over the rest of its content. */
function actionDigest(record: Omit<ActionRecord, 'digest'>): string {
  return hashJson(record as unknown as Record<string, unknown>);
}

/** Writes a file atomically (through the store's tmp/ and a rename). */
export type AtomicWriter = (dest: string, bytes: Uint8Array | string) => Promise<void>;

export class ActionCache {
  readonly actionsDir: string;
  readonly logsDir: string;

  constructor(
    readonly root: string,
    private readonly writeAtomic: AtomicWriter,
  ) {
    this.actionsDir = join(root, 'actions');
    this.logsDir = join(root, 'logs');
  }

  actionPath(key: string): string {
    if (!HEX64.test(key)) throw new RangeError(`not a sha256 hex key: ${key}`);
    return join(this.actionsDir, key.slice(0, 2), `${key}.json`);
  }

  /**
   * The action record of `key`, or undefined when there is none or it does not hold: stored under
   * another key's name, or its content no longer matches its digest (an edited or swapped output).
   * Synchronous, like the other checks of a cache hit (see ObjectStore.hasIntact).
   */
  getAction(key: string): ActionRecord | undefined {
    const r = this.readAction(key);
    return r.ok ? r.record : undefined;
  }

  /** The action record of `key` with the reason it is refused, if it is. */
  readAction(key: string): { ok: true; record: ActionRecord } | { ok: false; reason: string } {
    let record: ActionRecord;
    try {
      record = JSON.parse(readFileSync(this.actionPath(key), 'utf8')) as ActionRecord;
    } catch (e) {
      return { ok: false, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unreadable' };
    }
    if (record === null || typeof record !== 'object' || typeof record.outputs !== 'object' || record.outputs === null) {
      return { ok: false, reason: 'not an action record' };
    }
    if (record.key !== key) return { ok: false, reason: `stored under ${key.slice(0, 12)} but records key ${String(record.key).slice(0, 12)}` };
    const { digest, ...rest } = record;
    if (digest !== actionDigest(rest)) return { ok: false, reason: 'its content does not match its digest' };
    return { ok: true, record };
  }

  async putAction(record: ActionRecord): Promise<void> {
    const { digest: _old, ...rest } = record;
    await this.writeAtomic(this.actionPath(record.key), JSON.stringify({ ...rest, digest: actionDigest(rest) }, null, 1));
  }

  async deleteAction(key: string): Promise<void> {
    await unlink(this.actionPath(key)).catch(() => undefined);
  }

  /** Every action key. */
  async listActions(): Promise<string[]> {
    return listTwoLevel(this.actionsDir, (_prefix, name) => {
      const key = name.replace(/\.json$/, '');
      return HEX64.test(key) ? key : undefined;
    });
  }

  /** The log of the latest execution under `key` (its log lines: a command's stdout and stderr). */
  logPath(key: string): string {
    if (!HEX64.test(key)) throw new RangeError(`not a sha256 hex key: ${key}`);
    return join(this.logsDir, key.slice(0, 2), `${key}.log`);
  }

  async writeLog(key: string, text: string): Promise<void> {
    await this.writeAtomic(this.logPath(key), text);
  }

  async readLog(key: string): Promise<string | undefined> {
    return readFile(this.logPath(key), 'utf8').catch(() => undefined);
  }
}
