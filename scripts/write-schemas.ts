// Writes schemas/pipeline.schema.json and schemas/nodes/<type>.schema.json from the node types'
// declarations (the single source of truth). A test checks the committed files are up to date.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { builtinRegistry } from '../src/nodes/index.js';
import { buildSchemas } from '../src/runtime/types/schema-files.js';

const dir = fileURLToPath(new URL('../schemas/', import.meta.url));
const files = await buildSchemas(builtinRegistry());
await mkdir(join(dir, 'nodes'), { recursive: true });
for (const [name, schema] of Object.entries(files)) await writeFile(join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
process.stdout.write(`wrote ${Object.keys(files).length} schema files to schemas/\n`);
