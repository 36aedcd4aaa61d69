// The JSON Schema files in schemas/, for editors (yaml-language-server) and other tools: the
// pipeline document, with each node's `params` tied to its type's own schema.
import { pipelineDocumentSchema } from '../planning/pipeline-schema.js';
import { describeNodeType, type PortInfo } from './node-catalog.js';
import type { NodeType } from './node-type.js';
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
    // Input port names (for completion in editors) and the output ports a reference can name.
    const info = describeNodeType(node as unknown as NodeType<never>);
    const portText = (p: PortInfo): string =>
      [`${p.kind}${p.dtype ? ` ${p.dtype}` : ''}${p.rank !== undefined ? ` rank ${p.rank}` : ''}${p.optional ? ', optional' : ''}${p.when ? `, with ${p.when}` : ''}`, p.description]
        .filter(Boolean).join(': ');
    const then: Record<string, unknown> = { properties: { params: { $ref: `nodes/${type}.schema.json` } } };
    if (info.portsKnown) {
      (then.properties as Record<string, unknown>).inputs = {
        description: `${type} inputs: ${info.inputs.map((p) => p.name).join(', ') || 'none'}. Outputs to reference as \`node.port\`: ${info.outputs.map((p) => p.name).join(', ')}.`,
        properties: Object.fromEntries(info.inputs.map((p) => [p.name, { description: portText(p) }])),
      };
    }
    branches.push({ if: { properties: { type: { const: type } }, required: ['type'] }, then });
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
