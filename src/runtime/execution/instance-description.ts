// What describes one node instance to a process on another machine, whichever engine carries it
// (a Slurm task file, a BullMQ message): enough to key and run it there, never code or credentials.
import type { Json } from '../tensor.js';
import type { OutputPort } from '../types/node-type.js';

export interface InstanceDescription {
  /** The Sieve that wrote it. */
  sieveVersion: string;
  /** The pipeline file (which results a cache may serve it, see `usableFor`). */
  pipeline: string;
  instanceId: string;
  nodeId: string;
  node: { type: string; version: string };
  params: Record<string, Json>;
  seed: number;
  /** The pipeline's directory: relative paths in params resolve there (the same path on every machine). */
  baseDir: string;
  outputs: Record<string, OutputPort>;
}
