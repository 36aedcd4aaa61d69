// Calling a node type's `run` directly, as the runtime would: params validated with defaults
// filled in, a NodeContext whose logs, notes and progress are recorded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll } from 'vitest';
import type { Json } from '../../src/runtime/tensor.js';
import type { NodeContext, NodeType, PortValue } from '../../src/runtime/types/node-type.js';

export interface Recorded {
  notes: Record<string, Json>;
  logs: string[];
  progress: [number, number | undefined][];
}

export interface NodeHarness<P> {
  /** A scratch directory removed after the test file. */
  scratch: string;
  /** Params as the runtime passes them: validated, defaults filled in. */
  params(overrides?: Record<string, unknown>): P;
  /** Whether these params pass the node's schema (a copy is checked). */
  isValid(params: Record<string, unknown>): boolean;
  context(params: P, inputs: Record<string, PortValue>, seed?: number): { ctx: NodeContext<P>; rec: Recorded };
}

export function nodeHarness<P>(node: NodeType<P>, defaultSeed = 1): NodeHarness<P> {
  const scratch = mkdtempSync(join(tmpdir(), `sieve-${node.type}-`));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const validate = new Ajv2020({ useDefaults: true, strict: false, allErrors: true }).compile(node.paramsSchema);
  return {
    scratch,
    params(overrides = {}) {
      const p = structuredClone(overrides);
      if (!validate(p)) throw new Error(JSON.stringify(validate.errors));
      return p as unknown as P;
    },
    isValid: (p) => validate(structuredClone(p)),
    context(params, inputs, seed = defaultSeed) {
      const rec: Recorded = { notes: {}, logs: [], progress: [] };
      const ctx: NodeContext<P> = {
        nodeId: node.type, params, seed, inputs, baseDir: scratch, cacheDir: scratch, scratchDir: scratch,
        signal: new AbortController().signal,
        progress: (done, total) => rec.progress.push([done, total]),
        log: (m) => rec.logs.push(m),
        note: (k, v) => {
          rec.notes[k] = v;
        },
      };
      return { ctx, rec };
    },
  };
}
