/** `npm run gen:client`: regenerates lib/client/schema.d.ts from the OpenAPI document. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLIENT_SCHEMA_PATH, renderClientSchema } from '../lib/client/generate.js';

writeFileSync(CLIENT_SCHEMA_PATH, await renderClientSchema());
process.stdout.write(`wrote ${fileURLToPath(CLIENT_SCHEMA_PATH)}\n`);
