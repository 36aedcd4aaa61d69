// The `command` node: runs a command line in another language. Inputs are written as files
// (safetensors for tensors, JSON, raw bytes) into a scratch directory; the command writes its
// declared outputs there too. Placeholders: {inputs.NAME}, {outputs.NAME}, {seed}, {scratch}.
// The key covers the command line and the content of every file listed in `deps`.
import { statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { canonicalJson } from '../runtime/keys/hash.js';
import { TENSOR_NAME } from '../runtime/store/artifact.js';
import { decodeSafetensors, encodeSafetensors } from '../runtime/store/safetensors.js';
import { isTensor, type DType, type Json } from '../runtime/tensor.js';
import { defineNode, type OutputPort, type ParamProblem, type PortValue, type StaticCheckContext } from '../runtime/types/node-type.js';

interface OutputDecl {
  kind: 'tensor' | 'json' | 'file';
  dtype?: DType;
  rank?: number;
}

interface CommandParams {
  run: string;
  deps: string[];
  outputs: Record<string, OutputDecl>;
  env: Record<string, string>;
  timeout_s?: number;
}

const EXT: Record<OutputDecl['kind'], string> = { tensor: '.safetensors', json: '.json', file: '.bin' };

export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}

function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

const PLACEHOLDER = /\{([a-z_]+(?:\.[A-Za-z0-9_-]+)?)\}/g;

/** Placeholders that name no declared output, no connected input, and `deps` that are not files. */
function staticCheck(p: CommandParams, ctx: StaticCheckContext): ParamProblem[] {
  const problems: ParamProblem[] = [];
  for (const [, name] of p.run.matchAll(PLACEHOLDER)) {
    const [kind, port] = name.split('.');
    if (kind === 'outputs' && port !== undefined && !(port in p.outputs)) {
      problems.push({ path: ['run'], message: `{${name}}: no output "${port}" is declared under outputs (declared: ${Object.keys(p.outputs).join(', ') || 'none'})` });
    } else if (kind === 'inputs' && port !== undefined && !ctx.connected.has(port)) {
      problems.push({ path: ['run'], message: `{${name}}: no input "${port}" is connected under inputs (connected: ${[...ctx.connected].join(', ') || 'none'})` });
    } else if (!((kind === 'inputs' || kind === 'outputs') && port !== undefined) && name !== 'seed' && name !== 'scratch') {
      problems.push({ path: ['run'], message: `unknown placeholder {${name}} (known: {inputs.NAME}, {outputs.NAME}, {seed}, {scratch})` });
    }
  }
  for (const [i, dep] of ctx.files ? p.deps.entries() : []) {
    const path = resolve(ctx.baseDir, dep);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) problems.push({ path: ['deps', i], message: `${path} does not exist` });
    else if (!st.isFile()) problems.push({ path: ['deps', i], message: `${path} is a directory, not a file` });
  }
  return problems;
}

function substitute(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!(name in values)) throw new CommandFailedError(`unknown placeholder ${whole} in run (known: ${Object.keys(values).map((k) => `{${k}}`).join(', ')})`);
    return shellQuote(values[name]);
  });
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

async function writeInput(path: string, value: PortValue): Promise<void> {
  if (isTensor(value)) await writeFile(path, encodeSafetensors({ [TENSOR_NAME]: value }));
  else if (value instanceof Uint8Array) await writeFile(path, value);
  else await writeFile(path, canonicalJson(value as Json));
}

function inputExt(value: PortValue): string {
  return isTensor(value) ? '.safetensors' : value instanceof Uint8Array ? '.bin' : '.json';
}

async function readOutput(port: string, decl: OutputDecl, path: string): Promise<PortValue> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CommandFailedError(`declared output "${port}" was not written (expected ${path})`);
  }
  if (decl.kind === 'file') return new Uint8Array(bytes);
  if (decl.kind === 'json') {
    try {
      return JSON.parse(bytes.toString('utf8')) as Json;
    } catch (e) {
      throw new CommandFailedError(`output "${port}" is not valid JSON: ${(e as Error).message}`);
    }
  }
  const { tensors } = decodeSafetensors(new Uint8Array(bytes));
  const names = Object.keys(tensors);
  if (names.length !== 1) throw new CommandFailedError(`output "${port}" must hold exactly one tensor, found ${names.length}`);
  return tensors[names[0]];
}

export default defineNode<CommandParams>({
  type: 'command',
  version: '1',
  description: 'Runs a command line (any language); inputs and outputs travel as safetensors/JSON files.',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['run', 'outputs'],
    properties: {
      run: { type: 'string', description: 'Command line (run by the shell in the pipeline directory). Placeholders: {inputs.NAME}, {outputs.NAME}, {seed}, {scratch}.' },
      deps: { type: 'array', items: { type: 'string' }, default: [], description: 'Files (relative to the pipeline) whose content is part of the key, e.g. the script.' },
      outputs: {
        type: 'object',
        description: 'Declared outputs: name → kind (and for tensors optional dtype and rank).',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['kind'],
          properties: {
            kind: { enum: ['tensor', 'json', 'file'] },
            dtype: { enum: ['float32', 'float64', 'float16', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'bool'] },
            rank: { type: 'integer', minimum: 0, maximum: 8 },
          },
        },
      },
      env: { type: 'object', additionalProperties: { type: 'string' }, default: {}, description: 'Extra environment variables.' },
      timeout_s: { type: 'number', exclusiveMinimum: 0, maximum: 604800, description: 'Kill the command after this many seconds.' },
    },
  },
  ports: (params, connected) => ({
    inputs: Object.fromEntries([...connected].map((name) => [name, { kind: 'any' as const }])),
    outputs: Object.fromEntries(
      Object.entries(params.outputs).map(([name, d]): [string, OutputPort] =>
        d.kind === 'tensor' ? [name, { kind: 'tensor', dtype: d.dtype, rank: d.rank }] : [name, { kind: d.kind }],
      ),
    ),
  }),
  check: staticCheck,
  async fingerprint(ctx) {
    return Promise.all(
      ctx.params.deps.map(async (dep, i) => {
        const path = resolve(ctx.baseDir, dep);
        const { sha256, size } = await ctx.hashFile(path);
        return { name: `deps[${i}]`, path, sha256, size };
      }),
    );
  },
  async run(ctx) {
    const inDir = join(ctx.scratchDir, 'in');
    const outDir = join(ctx.scratchDir, 'out');
    await mkdir(inDir, { recursive: true });
    await mkdir(outDir, { recursive: true });
    const values: Record<string, string> = { seed: String(ctx.seed), scratch: ctx.scratchDir };
    const env: Record<string, string> = { SIEVE_SEED: String(ctx.seed), SIEVE_NODE: ctx.nodeId };
    for (const [port, value] of Object.entries(ctx.inputs)) {
      const path = join(inDir, port + inputExt(value));
      await writeInput(path, value);
      values[`inputs.${port}`] = path;
      env[`SIEVE_IN_${port.toUpperCase()}`] = path;
    }
    for (const [port, decl] of Object.entries(ctx.params.outputs)) {
      const path = join(outDir, port + EXT[decl.kind]);
      values[`outputs.${port}`] = path;
      env[`SIEVE_OUT_${port.toUpperCase()}`] = path;
    }
    const line = substitute(ctx.params.run, values);
    ctx.log(`$ ${line.trim()}`);
    const { execa } = await import('execa'); // lazily: declaring the node type must stay cheap
    const proc = execa(line, {
      shell: true, cwd: ctx.baseDir, env: { ...env, ...ctx.params.env }, reject: false, all: true,
      cancelSignal: ctx.signal, timeout: ctx.params.timeout_s ? ctx.params.timeout_s * 1000 : undefined,
    });
    // Every line of stdout and stderr goes to the node's log (kept in the cache: `sieve logs`; live
    // with -v); a line "progress DONE/TOTAL" on stdout drives the progress bar instead.
    const follow = (stream: NodeJS.ReadableStream | null | undefined, prefix: string): void => {
      let pending = '';
      const line = (l: string): void => {
        const m = /^progress (\d+)\/(\d+)/.exec(l.trim());
        if (m && !prefix) ctx.progress(Number(m[1]), Number(m[2]));
        else ctx.log(`${prefix}${l}`);
      };
      stream?.on('data', (chunk: Buffer) => {
        const parts = (pending + chunk.toString('utf8')).split('\n');
        pending = parts.pop() ?? '';
        for (const l of parts) line(l.replace(/\r$/, ''));
      });
      stream?.on('end', () => {
        if (pending) line(pending);
        pending = '';
      });
    };
    follow(proc.stdout, '');
    follow(proc.stderr, 'stderr: ');
    const result = await proc;
    if (result.failed) {
      const why = result.timedOut ? `timed out after ${ctx.params.timeout_s}s` : `exited with code ${result.exitCode ?? result.signal}`;
      throw new CommandFailedError(
        `command ${why}: ${line.trim()}\n${tail(String(result.stderr || result.all || ''))}\nrerun it by hand: cd ${shellQuote(ctx.baseDir)} && ${line.trim()}`,
      );
    }
    const outputs: Record<string, PortValue> = {};
    for (const [port, decl] of Object.entries(ctx.params.outputs)) outputs[port] = await readOutput(port, decl, values[`outputs.${port}`]);
    return outputs;
  },
});
