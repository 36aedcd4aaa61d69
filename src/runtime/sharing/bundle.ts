// `sieve export` / `sieve import`: one tar file holding a manifest, the pipeline YAML, its lockfile
// and every object they reference, for sending by other means than a remote.
//   sieve-bundle.json        manifest: format, version, file names, and each object's hash and size
//   pipeline/<name>.yaml     the pipeline
//   pipeline/<name>.lock     its lockfile
//   objects/<2 hex>/<62 hex> the objects
// Import checks everything it can: every entry name (no `..`, no absolute path, no link, nothing
// unknown, only <name>.yaml and <name>.lock), every object's hash while it is staged in the cache's
// tmp/; the cache, the pipeline and the lockfile are touched only after the whole bundle checked
// out. What it cannot check (that a record's outputs are what its key computes) is bound to the
// bundle: its action records serve only the pipeline it carries unless imported with `trust`.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse } from 'yaml';
import tar from 'tar-stream';
import { SieveError } from '../errors.js';
import { hashFileStream, sha256 } from '../keys/hash.js';
import { LOCKFILE_VERSION, type Lockfile } from '../results/lockfile.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import type { Store } from '../store/store.js';
import { moveInto, restoreActions, wantedObjects, type Selection } from './sync.js';

export const BUNDLE_FORMAT = 'sieve-bundle';
export const BUNDLE_VERSION = 1;
const MANIFEST = 'sieve-bundle.json';
const MAX_TEXT_ENTRY = 64 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;
/** `<name>.yaml` (or `.yml`) with a plain name: import writes nothing else. */
const PIPELINE_NAME = /^([A-Za-z0-9_][A-Za-z0-9._-]{0,99})\.ya?ml$/;

export interface BundleFileEntry {
  name: string;
  sha256: string;
  size: number;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  sieve: string;
  created: string;
  pipeline: BundleFileEntry;
  lockfile: BundleFileEntry;
  objects: { hash: string; size: number }[];
}

/** A bundle that cannot be written, or one that is refused on import (nothing from it is kept). */
export class BundleError extends SieveError {
  override name = 'BundleError';
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly entry?: string,
  ) {
    super(`bundle ${file}${entry !== undefined ? `, entry ${JSON.stringify(entry)}` : ''}: ${reason}`);
  }
}

export interface ExportOptions {
  store: Store;
  pipelinePath: string;
  lockPath: string;
  outFile: string;
  sieveVersion: string;
  selection?: Selection;
}

export interface ExportReport {
  file: string;
  objects: number;
  bytes: number;
}

export async function exportBundle(opts: ExportOptions): Promise<ExportReport> {
  const pipelineText = await readFile(opts.pipelinePath).catch(() => {
    throw new BundleError(opts.outFile, `cannot read the pipeline ${opts.pipelinePath}`);
  });
  const lockText = await readFile(opts.lockPath).catch(() => {
    throw new BundleError(opts.outFile, `no lockfile ${opts.lockPath}: run the pipeline first`);
  });
  const lock = parseLockText(lockText.toString('utf8'));
  if (!lock) throw new BundleError(opts.outFile, `${opts.lockPath} is not a Sieve lockfile`);
  const objects = wantedObjects(lock, opts.selection);
  const absent: string[] = [];
  for (const o of objects) if (!opts.store.hasIntact(o)) absent.push(`${o.hash.slice(0, 12)} (${o.producers.join(', ')})`);
  if (absent.length) {
    throw new BundleError(opts.outFile, `the cache lacks ${absent.length} object(s) the lockfile names: ${absent.join('; ')} (run or pull them first)`);
  }
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT, version: BUNDLE_VERSION, sieve: opts.sieveVersion, created: new Date().toISOString(),
    pipeline: { name: basename(opts.pipelinePath), sha256: sha256(pipelineText), size: pipelineText.byteLength },
    lockfile: { name: basename(opts.lockPath), sha256: sha256(lockText), size: lockText.byteLength },
    objects: objects.map((o) => ({ hash: o.hash, size: o.size })),
  };
  const outDir = dirname(opts.outFile);
  const dirStat = await stat(outDir).catch(() => undefined);
  if (!dirStat?.isDirectory()) throw new BundleError(opts.outFile, `cannot write it: ${outDir} ${dirStat ? 'is not a directory' : 'does not exist'}`);
  const tmp = `${opts.outFile}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(tmp));
  written.catch(() => undefined); // an early failure (no permission, a full disk) is reported below, not as an unhandled error
  const addBytes = (name: string, bytes: Uint8Array): Promise<void> =>
    new Promise((res, rej) => pack.entry({ name, size: bytes.byteLength, mode: 0o644 }, Buffer.from(bytes), (e) => (e ? rej(e) : res())));
  let bytes = 0;
  try {
    await addBytes(MANIFEST, Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`));
    await addBytes(`pipeline/${manifest.pipeline.name}`, pipelineText);
    await addBytes(`pipeline/${manifest.lockfile.name}`, lockText);
    for (const o of objects) {
      const entry = pack.entry({ name: `objects/${o.hash.slice(0, 2)}/${o.hash.slice(2)}`, size: o.size, mode: 0o644 });
      await pipeline(createReadStream(opts.store.objectPath(o.hash), { highWaterMark: 1 << 22 }), entry);
      bytes += o.size;
    }
    pack.finalize();
    await written;
    await rename(tmp, opts.outFile);
  } catch (e) {
    pack.destroy();
    await rm(tmp, { force: true });
    throw e instanceof SieveError ? e : new BundleError(opts.outFile, (e as Error).message);
  }
  return { file: opts.outFile, objects: objects.length, bytes };
}

export interface ImportOptions {
  store: Store;
  file: string;
  /** Where the pipeline and lockfile are written. */
  toDir: string;
  /** Overwrite a different existing pipeline or lockfile. */
  force?: boolean;
  /** The bundle's results may serve every pipeline, not only the one it carries. */
  trust?: boolean;
}

/** What of a pipeline runs code: plugins (JavaScript) and `command` nodes (any command line). */
export interface PipelineCode {
  plugins: string[];
  commands: { id: string; run: string }[];
  /** Its `cache:` field, which import does not follow. */
  cache?: string;
}

export interface ImportReport {
  pipelinePath: string;
  lockPath: string;
  objects: number;
  /** Objects the cache did not have before. */
  added: number;
  bytes: number;
  actionsRestored: number;
  /** The bundle file's sha256 (the origin its action records carry). */
  sha256: string;
  pipelineCode: PipelineCode;
}

/** The plugins and command nodes of a pipeline text (nothing when it does not parse). */
export function pipelineCode(text: string): PipelineCode {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 1000 });
  } catch {
    return { plugins: [], commands: [] };
  }
  const d = (doc !== null && typeof doc === 'object' ? doc : {}) as { plugins?: unknown; nodes?: unknown; cache?: unknown };
  const plugins = Array.isArray(d.plugins) ? d.plugins.map((p) => String(p)) : [];
  const commands: PipelineCode['commands'] = [];
  if (d.nodes !== null && typeof d.nodes === 'object') {
    for (const [id, n] of Object.entries(d.nodes as Record<string, unknown>)) {
      const node = (n ?? {}) as { type?: unknown; params?: { run?: unknown } };
      if (node.type === 'command') commands.push({ id, run: typeof node.params?.run === 'string' ? node.params.run : JSON.stringify(node.params?.run ?? null) });
    }
  }
  return { plugins, commands, ...(typeof d.cache === 'string' ? { cache: d.cache } : {}) };
}

/** Rejects names that could land outside the staging directory or that the format does not know. */
function checkEntryName(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute path';
  if (name.includes('\\')) return 'backslash in name';
  if (name.includes('\0')) return 'NUL in name';
  const trimmed = name.replace(/\/+$/, '');
  if (trimmed.split('/').includes('..')) return 'path escapes the bundle (..)';
  if (posix.normalize(trimmed) !== trimmed) return 'path is not normalised';
  return undefined;
}

export async function importBundle(opts: ImportOptions): Promise<ImportReport> {
  const { store, file } = opts;
  await store.init();
  const fileStat = await stat(file).catch(() => undefined);
  if (!fileStat?.isFile()) throw new BundleError(file, 'no such file');
  const staging = store.tmpName('import-');
  const bundleHash = await hashFileStream(file);
  await mkdir(join(staging, 'objects'), { recursive: true });
  const refuse = (reason: string, entry?: string): never => {
    throw new BundleError(file, reason, entry);
  };
  try {
    let manifest: BundleManifest | undefined;
    const texts = new Map<string, Buffer>();
    const seenObjects = new Map<string, number>();
    const seen = new Set<string>();
    const extract = tar.extract();
    const src = createReadStream(file);
    src.on('error', (e) => extract.destroy(e));
    src.pipe(extract);
    try {
      for await (const tarEntry of extract) {
        const { name, type } = tarEntry.header;
        const entry = tarEntry as unknown as AsyncIterable<Buffer> & { resume(): void };
        const bad = checkEntryName(name);
        if (bad) refuse(`refused: ${bad}`, name);
        if (type === 'symlink' || type === 'link') refuse(`refused: a ${type === 'link' ? 'hard link' : 'symbolic link'} (to ${tarEntry.header.linkname ?? '?'})`, name);
        if (type === 'directory') {
          if (!/^(objects|pipeline|objects\/[0-9a-f]{2})\/?$/.test(name)) refuse('refused: unknown directory', name);
          entry.resume();
          continue;
        }
        if (type !== 'file') refuse(`refused: entries of type ${type} are not allowed`, name);
        if (seen.has(name)) refuse('refused: appears twice', name);
        seen.add(name);
        if (!manifest) {
          if (name !== MANIFEST) refuse(`not a Sieve bundle: the first entry must be ${MANIFEST}`, name);
          manifest = parseManifest(file, await readEntry(entry, file, name));
          continue;
        }
        const obj = /^objects\/([0-9a-f]{2})\/([0-9a-f]{62})$/.exec(name);
        if (obj) {
          const hash = obj[1] + obj[2];
          const expected = manifest.objects.find((o) => o.hash === hash);
          if (!expected) refuse('refused: object not listed in the manifest', name);
          const got = await stageEntry(entry, join(staging, 'objects', hash));
          if (got.size !== expected!.size) refuse(`refused: ${got.size} bytes, the manifest records ${expected!.size} (truncated?)`, name);
          if (got.sha256 !== hash) refuse(`refused: content hashes to ${got.sha256}, not to its name`, name);
          seenObjects.set(hash, got.size);
          continue;
        }
        if (name === `pipeline/${manifest.pipeline.name}` || name === `pipeline/${manifest.lockfile.name}`) {
          const meta = name === `pipeline/${manifest.pipeline.name}` ? manifest.pipeline : manifest.lockfile;
          const bytes = await readEntry(entry, file, name);
          if (bytes.byteLength !== meta.size || sha256(bytes) !== meta.sha256) refuse('refused: does not match the hash and size in the manifest', name);
          texts.set(meta.name, bytes);
          continue;
        }
        refuse('refused: unknown entry (not part of the Sieve bundle format)', name);
      }
    } catch (e) {
      extract.destroy();
      src.destroy();
      if (e instanceof BundleError) throw e;
      refuse(`not a readable Sieve bundle (${(e as Error).message})`);
    }
    if (!manifest) refuse('not a Sieve bundle: empty archive');
    const m = manifest!;
    const absent = m.objects.filter((o) => !seenObjects.has(o.hash));
    if (absent.length) refuse(`incomplete: ${absent.length} object(s) in the manifest are missing (e.g. ${absent[0].hash})`);
    const pipelineBytes = texts.get(m.pipeline.name) ?? refuse(`incomplete: pipeline/${m.pipeline.name} is missing`);
    const lockBytes = texts.get(m.lockfile.name) ?? refuse(`incomplete: pipeline/${m.lockfile.name} is missing`);
    const lock = parseLockText(lockBytes.toString('utf8'));
    if (!lock || lock.version !== LOCKFILE_VERSION || typeof lock.points !== 'object') refuse(`${m.lockfile.name} is not a Sieve lockfile of version ${LOCKFILE_VERSION}`);

    // Everything checked out: refuse to clobber a different pipeline or lockfile, then commit.
    const toDir = resolve(opts.toDir);
    await mkdir(toDir, { recursive: true });
    const pipelinePath = join(toDir, m.pipeline.name);
    const lockPath = join(toDir, m.lockfile.name);
    for (const [path, bytes] of [[pipelinePath, pipelineBytes], [lockPath, lockBytes]] as const) {
      const existing = await readFile(path).catch(() => undefined);
      if (existing && !existing.equals(bytes) && !opts.force) {
        refuse(`${path} exists with different content (pass --force to overwrite, or --to another directory)`);
      }
    }
    let added = 0;
    let bytes = 0;
    for (const o of m.objects) {
      bytes += o.size;
      if (store.hasIntact(o)) continue;
      await moveInto(join(staging, 'objects', o.hash), store.objectPath(o.hash));
      added++;
    }
    await writeFileAtomic(pipelinePath, pipelineBytes);
    await writeFileAtomic(lockPath, lockBytes);
    const origin = { kind: 'bundle', source: bundleHash, pipeline: pipelinePath, ...(opts.trust ? { trusted: true } : {}) } as const;
    const actionsRestored = await restoreActions(store, lock!, origin);
    return {
      pipelinePath, lockPath, objects: m.objects.length, added, bytes, actionsRestored, sha256: bundleHash,
      pipelineCode: pipelineCode(pipelineBytes.toString('utf8')),
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Lockfiles are JSON now; older YAML ones still parse. */
function parseLockText(text: string): Lockfile | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    try {
      data = parse(text);
    } catch {
      return undefined;
    }
  }
  const lock = data as Lockfile | null;
  return lock && typeof lock === 'object' && typeof lock.points === 'object' ? lock : undefined;
}

function parseManifest(file: string, bytes: Buffer): BundleManifest {
  let m: BundleManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as BundleManifest;
  } catch (e) {
    throw new BundleError(file, `manifest is not JSON (${(e as Error).message})`, MANIFEST);
  }
  if (m?.format !== BUNDLE_FORMAT) throw new BundleError(file, `unknown format ${JSON.stringify(m?.format)} (expected "${BUNDLE_FORMAT}")`, MANIFEST);
  if (m.version !== BUNDLE_VERSION) throw new BundleError(file, `bundle version ${m.version} is not supported (this Sieve reads version ${BUNDLE_VERSION})`, MANIFEST);
  for (const f of [m.pipeline, m.lockfile]) {
    if (!f || typeof f.name !== 'string' || !HEX64.test(f.sha256) || !Number.isInteger(f.size)) {
      throw new BundleError(file, `manifest names an invalid pipeline or lockfile entry ${JSON.stringify(f)}`, MANIFEST);
    }
  }
  // Import writes these two files into the user's directory: only `<name>.yaml` and `<name>.lock`.
  const base = PIPELINE_NAME.exec(m.pipeline.name)?.[1];
  if (base === undefined) {
    throw new BundleError(file, `refused: the pipeline must be named <name>.yaml with a plain name (letters, digits, . _ -), not ${JSON.stringify(m.pipeline.name)}`, MANIFEST);
  }
  if (m.lockfile.name !== `${base}.lock`) {
    throw new BundleError(file, `refused: the lockfile of ${m.pipeline.name} must be named ${base}.lock, not ${JSON.stringify(m.lockfile.name)}`, MANIFEST);
  }
  if (!Array.isArray(m.objects) || m.objects.some((o) => !HEX64.test(o?.hash) || !Number.isInteger(o.size) || o.size < 0)) {
    throw new BundleError(file, 'manifest `objects` must be a list of {hash: sha256 hex, size: bytes}', MANIFEST);
  }
  return m;
}

async function readEntry(entry: AsyncIterable<Buffer>, file: string, name: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of entry) {
    size += c.byteLength;
    if (size > MAX_TEXT_ENTRY) throw new BundleError(file, `refused: larger than ${MAX_TEXT_ENTRY} bytes`, name);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function stageEntry(entry: AsyncIterable<Buffer>, dest: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const handle = await open(dest, 'w');
  try {
    for await (const c of entry) {
      h.update(c);
      size += c.byteLength;
      await handle.write(c);
    }
  } finally {
    await handle.close();
  }
  return { sha256: h.digest('hex'), size };
}
