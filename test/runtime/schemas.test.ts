import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { builtinRegistry } from '../../src/nodes/index.js';
import { pipelineDocumentSchema } from '../../src/runtime/planning/pipeline-schema.js';
import { buildSchemas } from '../../src/runtime/types/schema-files.js';

describe('JSON Schemas', () => {
  it('every node params schema and the pipeline schema are valid 2020-12 schemas', async () => {
    const registry = builtinRegistry();
    await registry.loadAll();
    const ajv = new Ajv2020({ strict: false });
    expect(ajv.validateSchema(pipelineDocumentSchema), JSON.stringify(ajv.errors)).toBe(true);
    for (const type of registry.types()) {
      const schema = registry.get(type)!.node.paramsSchema;
      expect(ajv.validateSchema(schema), `${type}: ${JSON.stringify(ajv.errors)}`).toBe(true);
      expect(schema.type, `${type} params schema must describe an object`).toBe('object');
      expect(schema.additionalProperties, `${type} must reject unknown params`).toBe(false);
    }
  });

  it('the files in schemas/ are up to date (run `npm run schemas`)', async () => {
    const files = await buildSchemas(builtinRegistry());
    for (const [name, schema] of Object.entries(files)) {
      const committed = await readFile(new URL(`../../schemas/${name}`, import.meta.url), 'utf8').catch(() => '');
      expect(committed, `schemas/${name} is stale: run npm run schemas`).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });

  it('the pipeline schema checks params per node type (as editors use it)', async () => {
    const files = await buildSchemas(builtinRegistry());
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    for (const [name, schema] of Object.entries(files)) if (name !== 'pipeline.schema.json') ajv.addSchema(schema);
    const validate = ajv.compile(files['pipeline.schema.json']);
    const good = { name: 'x', nodes: { c: { type: 'command', params: { run: 'true', outputs: {} } } } };
    const bad = { name: 'x', nodes: { c: { type: 'command', params: { run: 3, outputs: {} } } } };
    expect(validate(good), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(bad)).toBe(false);
  });
});
