// JSON Schema of the pipeline document itself. Node params are checked against each node type's own
// schema; the schema written to schemas/pipeline.schema.json for editors also links those in.

import { executorSchema } from '../execution/executor-config.js';
import { resourcesSchema } from '../types/resources.js';

export const NODE_ID_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';

export const pipelineDocumentSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://sieve.dev/schemas/pipeline.schema.json',
  title: 'Sieve pipeline',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'nodes'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'Name of the pipeline (used for run records and results).' },
    description: { type: 'string' },
    seed: { type: 'integer', minimum: 0, default: 0, description: 'Seed every node receives unless it sets its own.' },
    cache: { type: 'string', description: 'Cache directory, relative to this file (default: artifacts/ at the project root: the nearest folder above this file holding .git or package.json, else beside this file).' },
    jobs: { type: 'integer', minimum: 1, description: 'Nodes run at once (default: number of CPUs).' },
    plugins: {
      type: 'array',
      items: { type: 'string' },
      description: 'JavaScript modules (relative to this file) whose default export is a node type or a list of them.',
    },
    remote: {
      type: 'object',
      description: 'Default remote for `sieve push` / `sieve pull`.',
    },
    executor: executorSchema,
    nodes: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: NODE_ID_PATTERN },
      additionalProperties: { $ref: '#/$defs/node' },
    },
    sweep: {
      type: 'object',
      additionalProperties: false,
      description: 'Parameter grid: the cartesian product of `grid` axes, times the paired rows of `zip`.',
      properties: {
        grid: { type: 'object', additionalProperties: { type: 'array', minItems: 1 } },
        zip: { type: 'object', additionalProperties: { type: 'array', minItems: 1 } },
      },
    },
  },
  $defs: {
    node: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { type: 'string', description: 'Node type, e.g. load, noise-inject, embed, select, relabel, train, evaluate, command.' },
        description: { type: 'string' },
        seed: { type: 'integer', minimum: 0, description: 'Overrides the pipeline seed for this node.' },
        params: { type: 'object' },
        resources: resourcesSchema,
        inputs: {
          type: 'object',
          additionalProperties: {
            type: 'string',
            pattern: '^[A-Za-z_][A-Za-z0-9_-]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$',
            description: '`node.port`, or `node` alone when that node has one output.',
          },
        },
      },
    },
  },
} as const;
