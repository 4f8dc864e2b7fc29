/**
 * The typed client's schema, generated from the OpenAPI document with openapi-typescript.
 * `npm run gen:client` writes it to lib/client/schema.d.ts (committed); test/unit/openapi.test.ts
 * fails when the committed file differs from what the document generates, so a contract change
 * reaches the CLI's and the console's typecheck.
 */
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { openApiDocument } from '../../lambdas/api/openapi.js';

export const CLIENT_SCHEMA_PATH = new URL('./schema.d.ts', import.meta.url);

const HEADER = `/**
 * Generated from the Baton OpenAPI document (lambdas/api/openapi.ts) by openapi-typescript.
 * Do not edit: run \`npm run gen:client\`.
 */
`;

export async function renderClientSchema(doc: Record<string, unknown> = openApiDocument()): Promise<string> {
  const ast = await openapiTS(structuredClone(doc) as unknown as OpenAPI3, { alphabetize: false });
  return `${HEADER}${astToString(ast)}`;
}
