// Dotted-path parameter assignments (`-p relabel.absorb=0.9`) and parameter grids.
// A path is `<node>.<param>[.<sub>...]`, `<node>.seed`, or `seed` for the pipeline seed.
import { parse as parseYamlScalar } from 'yaml';
import { UsageError } from '../errors.js';
import type { Json } from '../tensor.js';
import { pointId, pointValue } from './point-id.js';

export interface Assignment {
  path: string;
  value: Json;
  /** Where it came from, for error messages: "-p", "--grid", "sweep.grid" ... */
  origin: string;
}

export interface GridPoint {
  index: number;
  /** Human-readable and stable, e.g. "relabel.absorb=0.7,relabel.relabel=0.9"; "default" without a grid. */
  id: string;
  assignments: Assignment[];
}

export interface SweepAxes {
  grid: Record<string, Json[]>;
  zip: Record<string, Json[]>;
}

/** Looks up the schema of a dotted param path, to type a command-line string. */
export type SchemaLookup = (path: string) => Record<string, unknown> | undefined;

/** Splits `a.b=1` into path and raw value. */
export function splitAssignment(text: string, flag: string): { path: string; raw: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} ${text}: expected PATH=VALUE, e.g. relabel.absorb=0.9`);
  return { path: text.slice(0, eq).trim(), raw: text.slice(eq + 1) };
}

/** Types a command-line value by the param's schema: strings stay strings, the rest is read as YAML. */
export function typeValue(raw: string, schema: Record<string, unknown> | undefined): Json {
  const types = schema ? ([] as unknown[]).concat(schema.type ?? []) : [];
  if (types.length === 1 && types[0] === 'string') return raw;
  if (schema && Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === 'string')) return raw;
  try {
    return parseYamlScalar(raw) as Json;
  } catch {
    return raw;
  }
}

/** Splits a list of CLI values on commas that are not inside brackets or quotes. */
export function splitList(raw: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let cur = '';
  for (const ch of raw) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

export function parseOverrides(flags: readonly string[], lookup: SchemaLookup): Assignment[] {
  return flags.map((f) => {
    const { path, raw } = splitAssignment(f, '-p');
    return { path, value: typeValue(raw, lookup(path)), origin: `-p ${f}` };
  });
}

export function parseAxisFlags(flags: readonly string[], flag: string, lookup: SchemaLookup): Record<string, Json[]> {
  const axes: Record<string, Json[]> = {};
  for (const f of flags) {
    const { path, raw } = splitAssignment(f, flag);
    const values = splitList(raw).map((v) => typeValue(v, lookup(path)));
    if (values.length === 0) throw new UsageError(`${flag} ${f}: no values`);
    axes[path] = values;
  }
  return axes;
}

/** Grid points a sweep may have unless `$SIEVE_MAX_POINTS` says otherwise (see the README). */
export const DEFAULT_MAX_POINTS = 100_000;

/** The limit on grid points: `$SIEVE_MAX_POINTS`, else DEFAULT_MAX_POINTS. */
export function maxPoints(): number {
  const env = process.env.SIEVE_MAX_POINTS;
  const n = env === undefined || env === '' ? DEFAULT_MAX_POINTS : Number(env);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`$SIEVE_MAX_POINTS must be a positive integer, got ${JSON.stringify(env)}`);
  return n;
}

/** How many points the axes make (grid lengths multiplied, times the zip rows), without making them. */
export function sweepSize(axes: SweepAxes): number {
  let n = 1;
  for (const values of Object.values(axes.grid)) n *= values.length;
  const zip = Object.values(axes.zip);
  if (zip.length > 0) n *= zip[0].length;
  return n;
}

/** How `expandSweep` labels and extends the points. */
export interface SweepExpansion {
  /** The origin of an axis's assignments when `originOf` says nothing: "sweep.grid", "sweep.zip". */
  grid: string;
  zip: string;
  /** The origin of a path's assignments (e.g. the `--grid` flag or the `-p` that replaced the axis). */
  originOf?: (path: string) => string | undefined;
  /** Assignments every point starts with (the command line's `-p`), in this order. */
  prefix?: readonly Assignment[];
}

/**
 * Expands grid axes (cartesian, the first axis varying slowest) times zip rows (paired, innermost)
 * into points, in a stable order. Points share their Assignment objects (one per axis value; a plan
 * is read-only), and each `path=value` text is made once, so a 10^5-point grid costs little more
 * than its ids.
 */
export function expandSweep(axes: SweepAxes, how: SweepExpansion): GridPoint[] {
  const prefix = how.prefix ?? [];
  const gridPaths = Object.keys(axes.grid);
  const zipPaths = Object.keys(axes.zip);
  if (gridPaths.length === 0 && zipPaths.length === 0) return [{ index: 0, id: pointId(prefix), assignments: [...prefix] }];
  const size = sweepSize(axes);
  const limit = maxPoints();
  if (size > limit) {
    throw new UsageError(`the sweep has ${size.toLocaleString('en-US')} points, more than the limit of ${limit.toLocaleString('en-US')} (set $SIEVE_MAX_POINTS to allow more)`);
  }
  const zipLengths = new Set(zipPaths.map((p) => axes.zip[p].length));
  if (zipLengths.size > 1) {
    throw new UsageError(
      `zip lists must have equal lengths: ${zipPaths.map((p) => `${p} has ${axes.zip[p].length}`).join(', ')}`,
    );
  }
  const overlap = gridPaths.filter((p) => zipPaths.includes(p));
  if (overlap.length > 0) throw new UsageError(`${overlap.join(', ')} is both a grid and a zip axis`);
  const texts = new Map<Assignment, string>();
  const assignment = (path: string, value: Json, origin: string): Assignment => {
    const a: Assignment = { path, value, origin: how.originOf?.(path) ?? origin };
    texts.set(a, `${path}=${pointValue(value)}`);
    return a;
  };
  const gridAxes = gridPaths.map((path) => axes.grid[path].map((value) => assignment(path, value, how.grid)));
  const zipRows: Assignment[][] = zipPaths.length === 0
    ? [[]]
    : Array.from({ length: axes.zip[zipPaths[0]].length }, (_, i) => zipPaths.map((path) => assignment(path, axes.zip[path][i], how.zip)));
  const prefixText = prefix.map((a) => `${a.path}=${pointValue(a.value)}`);
  const points = new Array<GridPoint>(size);
  const picked = new Array<Assignment>(gridAxes.length);
  for (let index = 0; index < size; index++) {
    const zip = zipRows[index % zipRows.length];
    let rest = Math.floor(index / zipRows.length);
    for (let j = gridAxes.length - 1; j >= 0; j--) {
      const axis = gridAxes[j];
      picked[j] = axis[rest % axis.length];
      rest = Math.floor(rest / axis.length);
    }
    const assignments = [...prefix, ...picked, ...zip];
    let id = prefixText.join(',');
    for (let j = prefix.length; j < assignments.length; j++) id += `${j === 0 ? '' : ','}${texts.get(assignments[j])!}`;
    points[index] = { index, id: id === '' ? 'default' : id, assignments };
  }
  return points;
}

/** Names that would reach an object's prototype: refused in every param path and params key. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** The first forbidden segment of a dotted path, if any. */
export function forbiddenSegment(path: readonly string[]): string | undefined {
  return path.find((s) => FORBIDDEN_KEYS.has(s));
}

/**
 * Sets `value` at a dotted sub-path of a params object (creating objects on the way); returns a copy.
 * The copies have no prototype, so no path can reach Object.prototype.
 */
export function setPath(obj: Record<string, Json>, path: readonly string[], value: Json): Record<string, Json> {
  const bad = forbiddenSegment(path);
  if (bad !== undefined) throw new RangeError(`"${bad}" is not allowed in a param path`);
  const copy: Record<string, Json> = Object.assign(Object.create(null) as Record<string, Json>, obj);
  if (path.length === 1) {
    copy[path[0]] = value;
    return copy;
  }
  const child = copy[path[0]];
  const base = child !== null && typeof child === 'object' && !Array.isArray(child) ? child : {};
  copy[path[0]] = setPath(base, path.slice(1), value);
  return copy;
}

/** Removes the param at a dotted sub-path (so its default applies); returns a copy. */
export function unsetPath(obj: Record<string, Json>, path: readonly string[]): Record<string, Json> {
  const copy: Record<string, Json> = { ...obj };
  if (path.length === 1) {
    delete copy[path[0]];
    return copy;
  }
  const child = copy[path[0]];
  if (child !== null && typeof child === 'object' && !Array.isArray(child)) copy[path[0]] = unsetPath(child, path.slice(1));
  return copy;
}

/** Schema of the param at `path` inside a params schema, following `properties`. */
export function schemaAt(schema: Record<string, unknown> | undefined, path: readonly string[]): Record<string, unknown> | undefined {
  let cur = schema;
  for (const seg of path) {
    const props = cur?.properties as Record<string, Record<string, unknown>> | undefined;
    cur = props?.[seg];
    if (!cur) return undefined;
  }
  return cur;
}
