import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lambdas/api/openapi.js';

describe('OpenAPI document', () => {
  it('is generated from the zod contracts', () => {
    // Act
    // biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, any>> };
    // Assess
    expect(doc.openapi).toBe('3.1.0');
    const body = doc.paths['/tasks']?.post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['goal']);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties)).toEqual(['goal', 'plan', 'inputs', 'policy']);
    const task = doc.paths['/tasks/{id}']?.get.responses['200'].content['application/json'].schema;
    expect(task.properties.status.enum).toContain('AWAITING_APPROVAL');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/tasks',
        '/tasks/{id}/events',
        '/tasks/{id}/artifacts/{artifactId}',
        '/tasks/{id}/cancel',
        '/tasks/{id}/redrive',
        '/dead-letters',
      ]),
    );
  });
});
