import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lambdas/api/openapi.js';
import { EventType } from '../../lambdas/core/schemas.js';

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
    const stream = doc.paths['/tasks/{id}/events/stream']?.get;
    expect(Object.keys(stream.responses['200'].content)).toEqual(['text/event-stream']);
    expect(stream.parameters.map((p: { name: string }) => p.name)).toEqual([
      'id',
      'Last-Event-ID',
      'after',
      'wait',
    ]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/tasks',
        '/tasks/{id}/events',
        '/tasks/{id}/events/stream',
        '/tasks/{id}/artifacts/{artifactId}',
        '/tasks/{id}/cancel',
        '/tasks/{id}/redrive',
        '/dead-letters',
      ]),
    );
  });

  it('shows the events as the union of one schema per event type, discriminated by type', () => {
    // Act
    // biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
    const doc = openApiDocument() as { paths: Record<string, Record<string, any>> };
    // Assess
    const page = doc.paths['/tasks/{id}/events']?.get.responses['200'].content['application/json'].schema;
    const union = page.properties.events.items;
    expect(union.discriminator).toEqual({ propertyName: 'type' });
    // biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
    const members: any[] = union.oneOf;
    expect(members.map((m) => m.properties.type.const)).toEqual(EventType.options);
    expect(members.map((m) => m.title)).toEqual(EventType.options.map((t) => `${t}Event`));
    const started = members.find((m) => m.title === 'StepStartedEvent');
    expect(started.required).toEqual(['id', 'seq', 'at', 'type', 'taskId', 'traceId', 'data']);
    expect(started.properties.data.required).toEqual(['attempt', 'agent', 'run']);
  });
});
