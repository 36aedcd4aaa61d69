// A grid point's id, in a module of its own (no YAML parser): the plan memo rebuilds ids with it.
import type { Json } from '../tensor.js';

/** A value as it appears in a point id. */
export function pointValue(v: Json): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A point's id: its assignments as `path=value`, comma-separated; "default" without any. */
export function pointId(assignments: readonly { path: string; value: Json }[]): string {
  return assignments.length === 0 ? 'default' : assignments.map((a) => `${a.path}=${pointValue(a.value)}`).join(',');
}
