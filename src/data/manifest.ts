// A manifest lists images and labels: CSV with a header naming `path`, `label` and optionally
// `split` (RFC 4180 quoting), or JSONL with one {"path", "label", "split"?} object per line. Paths
// are relative to the manifest's folder. Labels are class names, or integers indexing the classes.
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { DatasetError } from './errors.js';
import type { FolderLayout, ImageListing } from './image-folder.js';

export interface ManifestEntry {
  path: string;
  label: string | number;
  split?: string;
  /** 1-based line in the manifest, for error messages. */
  line: number;
}

/** Parses RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes. */
export function parseCsv(text: string): { rows: string[][]; lines: number[] } {
  const rows: string[][] = [];
  const lines: number[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const endRow = (): void => {
    row.push(field);
    field = '';
    // A blank line is not a record.
    if (!(row.length === 1 && row[0] === '')) {
      rows.push(row);
      lines.push(rowLine);
    }
    row = [];
  };
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else field += c;
  }
  if (quoted) throw new DatasetError(`CSV ends inside a quoted field opened on line ${rowLine}`);
  if (field !== '' || row.length > 0) endRow();
  return { rows, lines };
}

function csvEntries(text: string, name: string): ManifestEntry[] {
  const { rows, lines } = parseCsv(text);
  if (rows.length === 0) throw new DatasetError(`${name} is empty`);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const col = (key: string): number => header.indexOf(key);
  if (col('path') < 0 || col('label') < 0) {
    throw new DatasetError(`${name}: the header row must name "path" and "label" columns, got ${rows[0].join(',')}`);
  }
  return rows.slice(1).map((r, i) => {
    if (r.length !== header.length) {
      throw new DatasetError(`${name}:${lines[i + 1]}: ${r.length} fields but the header has ${header.length}`);
    }
    const split = col('split') >= 0 ? r[col('split')].trim() : undefined;
    return { path: r[col('path')], label: r[col('label')].trim(), split, line: lines[i + 1] };
  });
}

function jsonlEntries(text: string, name: string): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new DatasetError(`${name}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    const rec = obj as { path?: unknown; label?: unknown; split?: unknown };
    if (typeof obj !== 'object' || obj === null || typeof rec.path !== 'string') {
      throw new DatasetError(`${name}:${i + 1}: expected an object with a string "path"`);
    }
    if (typeof rec.label !== 'string' && typeof rec.label !== 'number') {
      throw new DatasetError(`${name}:${i + 1}: "label" must be a class name or an integer`);
    }
    if (rec.split !== undefined && typeof rec.split !== 'string') {
      throw new DatasetError(`${name}:${i + 1}: "split" must be a string`);
    }
    entries.push({ path: rec.path, label: rec.label, split: rec.split as string | undefined, line: i + 1 });
  });
  return entries;
}

/** Parses manifest text; `format` is 'csv' or 'jsonl', or guessed from the first character. */
export function parseManifest(text: string, name: string, format?: 'csv' | 'jsonl'): ManifestEntry[] {
  const kind = format ?? (text.trimStart().startsWith('{') ? 'jsonl' : 'csv');
  return kind === 'csv' ? csvEntries(text, name) : jsonlEntries(text, name);
}

const INTEGER = /^\d+$/;
const TEST_SPLITS = new Set(['test', 'val', 'valid', 'validation']);

function labelIndexer(entries: readonly ManifestEntry[], name: string, classes?: readonly string[]) {
  if (classes) {
    const byName = new Map(classes.map((c, i) => [c, i]));
    return {
      classes: [...classes],
      index(e: ManifestEntry): number {
        const text = String(e.label);
        const named = byName.get(text);
        if (named !== undefined) return named;
        if (INTEGER.test(text) && Number(text) < classes.length) return Number(text);
        throw new DatasetError(`${name}:${e.line}: label "${text}" is neither one of the ${classes.length} classes nor an index below ${classes.length}`);
      },
    };
  }
  // Without a class list: all-integer labels index classes "0".."max"; otherwise names, sorted.
  if (entries.every((e) => INTEGER.test(String(e.label)))) {
    const max = entries.reduce((m, e) => Math.max(m, Number(e.label)), -1);
    return { classes: Array.from({ length: max + 1 }, (_, i) => String(i)), index: (e: ManifestEntry) => Number(e.label) };
  }
  const names = [...new Set(entries.map((e) => String(e.label)))].sort();
  const byName = new Map(names.map((c, i) => [c, i]));
  return { classes: names, index: (e: ManifestEntry) => byName.get(String(e.label))! };
}

/** Turns parsed entries into absolute file lists and labels per split. */
export function resolveManifest(
  entries: readonly ManifestEntry[],
  manifestPath: string,
  classes?: readonly string[],
): FolderLayout {
  if (entries.length === 0) throw new DatasetError(`${manifestPath} lists no images`);
  const indexer = labelIndexer(entries, manifestPath, classes);
  const base = dirname(manifestPath);
  const train = { files: [] as string[], labels: [] as number[] };
  const test = { files: [] as string[], labels: [] as number[] };
  for (const e of entries) {
    const split = (e.split ?? '').toLowerCase();
    let target;
    if (split === '' || split === 'train') target = train;
    else if (TEST_SPLITS.has(split)) target = test;
    else throw new DatasetError(`${manifestPath}:${e.line}: split "${e.split}" is not train, test or val`);
    if (e.path.trim() === '') throw new DatasetError(`${manifestPath}:${e.line}: empty path`);
    target.files.push(resolve(base, e.path));
    target.labels.push(indexer.index(e));
  }
  const listing = (s: typeof train): ImageListing => ({ files: s.files, labels: Int32Array.from(s.labels) });
  if (train.files.length === 0) throw new DatasetError(`${manifestPath} has no train entries (only ${test.files.length} test)`);
  return { classes: indexer.classes, train: listing(train), test: test.files.length > 0 ? listing(test) : undefined };
}

/** Reads a CSV or JSONL manifest file (format by extension, else guessed). */
export async function readManifest(manifestPath: string, classes?: readonly string[]): Promise<FolderLayout> {
  const text = await readFile(manifestPath, 'utf8').catch((e: Error) => {
    throw new DatasetError(`cannot read manifest ${manifestPath}: ${e.message}`);
  });
  const ext = extname(manifestPath).toLowerCase();
  const format = ext === '.csv' ? 'csv' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : undefined;
  return resolveManifest(parseManifest(text, manifestPath, format), manifestPath, classes);
}
