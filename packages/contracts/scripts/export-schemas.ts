// Writes packages/contracts/schemas/ from the TypeBox sources: `pnpm --filter @grace/contracts schemas`.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaDocuments } from '../src/json-schemas.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
rmSync(root, { recursive: true, force: true });
const docs = jsonSchemaDocuments();
for (const [file, doc] of Object.entries(docs)) {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(docs).length} JSON Schema files to ${root}`);
