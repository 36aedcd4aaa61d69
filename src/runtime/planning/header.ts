// The pipeline header: the top-level fields that say where and how a pipeline runs, not what it
// computes: `name`, `cache`, `jobs`, `remote`, `executor`. The one place that reads them:
//   headerOf(doc)            from a parsed document (the planner, after the pipeline schema checked it)
//   readPipelineHeader(path) from a file, without planning (the sharing commands: a teammate can pull
//                            before the plugins the pipeline needs are installed); checks the types
//   peekCacheField(text)     `cache:` from the text without parsing YAML (which store holds the plan
//                            memo, looked up before planning; a miss only costs a full planning)
// (Node-level `resources:` belong to each node, see types/resources.ts.)
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { yamlParser } from '../lazy-yaml.js';
import type { Json } from '../tensor.js';

export interface PipelineHeader {
  /** 'pipeline' when the file names none (the schema requires one: only an unchecked file lacks it). */
  name: string;
  /** The cache directory, as written (relative to the file). */
  cache?: string;
  /** Nodes run at once on this machine. */
  jobs?: number;
  /** The default remote of push / pull: settings, or `{name}` of one in the user config. */
  remote?: Record<string, Json>;
  /** The `executor:` section, as written (see execution/executor-config.ts). */
  executor?: Record<string, Json>;
}

const isMapping = (x: unknown): x is Record<string, Json> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The header of a parsed pipeline document; fields of the wrong type are left out (the schema reports them). */
export function headerOf(doc: unknown): PipelineHeader {
  const d = isMapping(doc) ? doc : {};
  return {
    name: typeof d.name === 'string' ? d.name : 'pipeline',
    ...(typeof d.cache === 'string' ? { cache: d.cache } : {}),
    ...(typeof d.jobs === 'number' ? { jobs: d.jobs } : {}),
    ...(isMapping(d.remote) ? { remote: d.remote } : {}),
    ...(isMapping(d.executor) ? { executor: d.executor } : {}),
  };
}

export interface PipelineHeaderFile {
  /** Absolute path of the pipeline file. */
  path: string;
  /** Its directory (relative paths in the header resolve against it). */
  baseDir: string;
  header: PipelineHeader;
}

/** Reads a pipeline file's header without planning it; a header field of the wrong type is a usage error. */
export async function readPipelineHeader(pipeline: string): Promise<PipelineHeaderFile> {
  const path = resolve(pipeline);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read pipeline ${path}`);
  }
  const parse = await yamlParser();
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (e) {
    throw new UsageError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isMapping(doc)) throw new UsageError(`${path}: expected a mapping with \`name:\` and \`nodes:\``);
  if (doc.remote !== undefined && !isMapping(doc.remote)) throw new UsageError(`${path}: \`remote\` must be a mapping such as {type: directory, path: ...}`);
  if (doc.executor !== undefined && !isMapping(doc.executor)) throw new UsageError(`${path}: \`executor\` must be a mapping such as {type: slurm, partition: gpu}`);
  if (doc.cache !== undefined && typeof doc.cache !== 'string') throw new UsageError(`${path}: \`cache\` must be a directory path`);
  if (doc.jobs !== undefined && !(Number.isInteger(doc.jobs) && (doc.jobs as number) >= 1)) throw new UsageError(`${path}: \`jobs\` must be a positive integer`);
  return { path, baseDir: dirname(path), header: headerOf(doc) };
}

/**
 * The value of a top-level `cache: dir` line, read without parsing the YAML, to know which store to
 * look for a memo in before planning. A value it cannot read plainly (flow style, anchors) is
 * undefined: a miss here only costs a full planning.
 */
export function peekCacheField(text: string): string | undefined {
  const m = /^cache:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"{[][^#\n]*?))[ \t]*(?:#.*)?$/m.exec(text);
  return m ? m[1] ?? m[2] ?? m[3] : undefined;
}
