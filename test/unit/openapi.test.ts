import { readFileSync } from 'node:fs';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../lambdas/api/openapi.js';
import { EventType } from '../../lambdas/core/schemas.js';
import { CLIENT_SCHEMA_PATH, renderClientSchema } from '../../lib/client/generate.js';

// biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: any };

/** Follows `#/components/...` references. */
// biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
function deref(doc: Doc, node: any): any {
  if (!node?.$ref) return node;
  const path = String(node.$ref).replace(/^#\//, '').split('/');
  // biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
  const target = path.reduce((n: any, k) => n?.[k], doc);
  return deref(doc, target);
}

/**
 * Redocly's `recommended` ruleset, with one rule off: info-license-strict wants a license URL or
 * SPDX identifier, and this private package has no license to point at (`UNLICENSED`).
 */
const RULES_OFF = { 'info-license-strict': 'off' } as const;

describe('OpenAPI document', () => {
  it('is generated from the zod contracts', () => {
    // Act
    const doc = openApiDocument() as Doc;
    // Assess
    expect(doc.openapi).toBe('3.1.0');
    const body = deref(doc, doc.paths['/tasks']?.post.requestBody.content['application/json'].schema);
    expect(body.required).toEqual(['goal']);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(body.properties)).toEqual(['goal', 'plan', 'inputs', 'policy']);
    const task = deref(
      doc,
      doc.paths['/tasks/{id}']?.get.responses['200'].content['application/json'].schema,
    );
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
        '/approvals/{id}/decision',
      ]),
    );
  });

  it('shows the events as the union of one named schema per event type, discriminated by type', () => {
    // Act
    const doc = openApiDocument() as Doc;
    // Assess
    const page = deref(
      doc,
      doc.paths['/tasks/{id}/events']?.get.responses['200'].content['application/json'].schema,
    );
    const union = deref(doc, page.properties.events.items);
    expect(union.discriminator.propertyName).toBe('type');
    // biome-ignore lint/suspicious/noExplicitAny: walking a generated JSON document
    const members: any[] = union.oneOf.map((m: unknown) => deref(doc, m));
    expect(members.map((m) => m.properties.type.const)).toEqual(EventType.options);
    expect(members.map((m) => m.title)).toEqual(EventType.options.map((t) => `${t}Event`));
    expect(Object.keys(union.discriminator.mapping)).toEqual(EventType.options);
    const started = members.find((m) => m.title === 'StepStartedEvent');
    expect(started.required).toEqual(['id', 'seq', 'at', 'type', 'taskId', 'traceId', 'data']);
    expect(started.properties.data.required).toEqual(['attempt', 'agent', 'run']);
  });

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    // Prepare
    const config = await createConfig({ extends: ['recommended'], rules: RULES_OFF });
    // Act
    const problems = await lintFromString({
      source: JSON.stringify(openApiDocument(), null, 2),
      absoluteRef: '/openapi.json',
      config,
    });
    // Assess
    const found = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(found).toEqual([]);
  });

  it('has servers, and documents the errors every authenticated operation can answer', () => {
    // Act
    const doc = openApiDocument() as Doc & { servers: { url: string }[] };
    // Assess
    expect(doc.servers.map((s) => s.url)).toEqual([
      'http://127.0.0.1:3000',
      'https://{apiId}.execute-api.{region}.amazonaws.com',
    ]);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        if (op.security?.length === 0) continue;
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['401', '403', '429', '500']),
        );
        if (op.parameters?.some((p: { in: string }) => p.in === 'path')) {
          expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
            expect.arrayContaining(['400', '404']),
          );
        }
      }
    }
  });

  it('matches the committed typed client (run `npm run gen:client` after a contract change)', async () => {
    // Act
    const generated = await renderClientSchema();
    // Assess
    expect(
      readFileSync(CLIENT_SCHEMA_PATH, 'utf8') === generated,
      'lib/client/schema.d.ts is out of date',
    ).toBe(true);
  });
});
