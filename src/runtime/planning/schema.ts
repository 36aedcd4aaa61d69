// JSON Schema validation with ajv, turning ajv's errors into located diagnostics.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../errors.js';
import type { FieldPath } from './source.js';
import { suggest } from './suggest.js';

/** Where a field came from, so an error can point at the file line or the command-line flag. */
export type Locate = (path: FieldPath, at: 'key' | 'value') => Omit<Diagnostic, 'message'>;

export class SchemaValidator {
  // The schemas are Sieve's own (and plugins'); checking them against the 2020-12 meta-schema on
  // every start costs ~45 ms of a no-op rerun, so that check lives in the test suite instead.
  // strictNumbers: NaN and ±Infinity (YAML's .nan and .inf, or 1e400) are not numbers, nor integers.
  private readonly ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, strictNumbers: true, verbose: true, validateSchema: false });
  private readonly compiled = new Map<object, ValidateFunction>();

  private compile(schema: object): ValidateFunction {
    let fn = this.compiled.get(schema);
    if (!fn) {
      fn = this.ajv.compile(schema);
      this.compiled.set(schema, fn);
    }
    return fn;
  }

  /**
   * Validates `data` in place (defaults are filled in). `base` is the path of `data` inside the
   * document, used to locate errors.
   */
  validate(schema: object, data: unknown, base: FieldPath, locate: Locate): Diagnostic[] {
    const fn = this.compile(schema);
    if (fn(data)) return [];
    return simplify(fn.errors ?? []).map((e) => toDiagnostic(e, data, base, locate));
  }
}

/** Drops the noise ajv adds around `anyOf`/`oneOf` and `if` branches when a more precise error exists. */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const useful = errors.filter((e) => e.keyword !== 'if' && e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const seen = new Set<string>();
  return (useful.length > 0 ? useful : errors).filter((e) => {
    const id = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(data: unknown, path: readonly string[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** A non-finite number as YAML writes it (JSON has no way to: it would print null). */
export function yamlNumber(n: number): string {
  return Number.isNaN(n) ? '.nan' : n > 0 ? '.inf' : '-.inf';
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return `${yamlNumber(value)} (not a finite number)`;
  const text = JSON.stringify(value);
  const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  return `${kind} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

function toDiagnostic(e: ErrorObject, data: unknown, base: FieldPath, locate: Locate): Diagnostic {
  const rel = pointerToPath(e.instancePath);
  const path = [...base, ...rel];
  const got = valueAt(data, rel);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const schemaProps = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
      const known = schemaProps.length ? ` (known: ${schemaProps.join(', ')})` : '';
      return { ...locate([...path, name], 'key'), message: `unknown field "${name}"${suggest(name, schemaProps)}${known}` };
    }
    case 'required':
      return { ...locate(path, 'key'), message: `missing required field "${String(p.missingProperty)}"` };
    case 'type':
      return { ...locate(path, 'value'), message: `expected ${String(p.type)}, got ${describe(got)}` };
    case 'enum':
      return {
        ...locate(path, 'value'),
        message: `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(got)}`,
      };
    case 'const':
      return { ...locate(path, 'value'), message: `expected ${JSON.stringify(p.allowedValue)}, got ${describe(got)}` };
    case 'propertyNames':
      return { ...locate([...path, String(p.propertyName)], 'key'), message: `invalid name "${String(p.propertyName)}"` };
    default:
      return { ...locate(path, 'value'), message: `${e.message ?? 'is invalid'}, got ${describe(got)}` };
  }
}
