/** The HTTP routes: each parses its request, calls a use case, shapes the response. */
import type { Route } from '@middy/http-router';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { CreateTaskBody, CreateTaskResponse, ListEventsQuery, ListTasksQuery } from '../core/schemas.js';
import { type HttpEvent, json, parseBody, validate } from './http.js';
import { openApiDocument } from './openapi.js';
import { z } from 'zod';
import {
  type ApiDeps,
  cancelTask,
  getTaskView,
  listDeadLetters,
  redriveTask,
  listTaskArtifacts,
  listTaskEvents,
  listTasks,
  readArtifact,
  submitTask,
  taskLinks,
} from './tasks.js';

const DeadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  include: z.enum(['open', 'all']).default('open'),
});

type R = Route<HttpEvent, APIGatewayProxyResultV2>;

const param = (e: HttpEvent, name: string) => decodeURIComponent(e.pathParameters?.[name] ?? '');

export function createRoutes(deps: ApiDeps): R[] {
  return [
    { method: 'GET', path: '/healthz', handler: async () => json(200, { ok: true }) },
    { method: 'GET', path: '/openapi.json', handler: async () => json(200, openApiDocument()) },
    {
      method: 'POST',
      path: '/tasks',
      handler: async (e: HttpEvent) => {
        const body = parseBody(e, CreateTaskBody);
        const res = await submitTask(deps, body, e.headers?.['idempotency-key']);
        const payload = CreateTaskResponse.parse({ taskId: res.taskId, status: res.status, links: taskLinks(res.taskId) });
        return json(202, payload, { location: `/tasks/${res.taskId}` });
      },
    },
    {
      method: 'GET',
      path: '/tasks',
      handler: async (e: HttpEvent) => json(200, await listTasks(deps, validate(ListTasksQuery, e.queryStringParameters ?? {}, 'query'))),
    },
    { method: 'GET', path: '/tasks/{id}', handler: async (e: HttpEvent) => json(200, await getTaskView(deps, param(e, 'id'))) },
    {
      method: 'GET',
      path: '/tasks/{id}/events',
      handler: async (e: HttpEvent) =>
        json(200, await listTaskEvents(deps, param(e, 'id'), validate(ListEventsQuery, e.queryStringParameters ?? {}, 'query'))),
    },
    {
      method: 'POST',
      path: '/tasks/{id}/cancel',
      handler: async (e: HttpEvent) => json(202, await cancelTask(deps, param(e, 'id'))),
    },
    {
      method: 'POST',
      path: '/tasks/{id}/redrive',
      handler: async (e: HttpEvent) => json(202, await redriveTask(deps, param(e, 'id'))),
    },
    {
      method: 'GET',
      path: '/dead-letters',
      handler: async (e: HttpEvent) =>
        json(200, await listDeadLetters(deps, validate(DeadLettersQuery, e.queryStringParameters ?? {}, 'query'))),
    },
    {
      method: 'GET',
      path: '/tasks/{id}/artifacts',
      handler: async (e: HttpEvent) => json(200, await listTaskArtifacts(deps, param(e, 'id'))),
    },
    {
      method: 'GET',
      path: '/tasks/{id}/artifacts/{artifactId}',
      handler: async (e: HttpEvent) => {
        const { meta, body } = await readArtifact(deps, param(e, 'id'), param(e, 'artifactId'));
        return {
          statusCode: 200,
          isBase64Encoded: true,
          headers: {
            'content-type': meta.contentType,
            'content-length': String(body.byteLength),
            'x-content-sha256': meta.sha256,
            'content-disposition': `attachment; filename="${meta.name}"`,
            'x-content-type-options': 'nosniff',
          },
          body: Buffer.from(body).toString('base64'),
        };
      },
    },
  ];
}
