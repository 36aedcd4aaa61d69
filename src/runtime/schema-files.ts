// The JSON Schema files in schemas/, for editors (yaml-language-server) and other tools: the
// pipeline document, with each node's `params` tied to its type's own schema.
import { pipelineDocumentSchema } from './pipeline-schema.js';
import type { NodeRegistry } from './registry.js';

export async function buildSchemas(registry: NodeRegistry): Promise<Record<string, object>> {
  await registry.loadAll();
  const files: Record<string, object> = {};
  const branches: object[] = [];
  for (const type of registry.types()) {
    const node = registry.get(type)!.node;
    files[`nodes/${type}.schema.json`] = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: `https://sieve.dev/schemas/nodes/${type}.schema.json`,
      title: `${type} params`,
      description: `${node.description} (version ${node.version})`,
      ...node.paramsSchema,
    };
    branches.push({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: { properties: { params: { $ref: `nodes/${type}.schema.json` } } },
    });
  }
  const defs = pipelineDocumentSchema.$defs;
  files['pipeline.schema.json'] = {
    ...pipelineDocumentSchema,
    $defs: {
      ...defs,
      node: {
        ...defs.node,
        properties: { ...defs.node.properties, type: { ...defs.node.properties.type, enum: registry.types() } },
        allOf: branches,
      },
    },
  };
  return files;
}
