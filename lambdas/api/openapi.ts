/** The OpenAPI 3.1 document, generated from the zod contracts (zod 4 emits JSON Schema 2020-12). */
import { z } from 'zod';
import {
  ArtifactRef,
  CreateTaskBody,
  CreateTaskResponse,
  ListEventsQuery,
  ListTasksQuery,
  TaskEvent,
  TaskSummary,
  TaskView,
} from '../core/schemas.js';

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output') =>
  z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12' });

const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

function queryParams(s: z.ZodObject) {
  return Object.entries(s.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    schema: schema(field as z.ZodType, 'input'),
  }));
}

const ok = (description: string, s: z.ZodType) => ({
  description,
  content: { 'application/json': { schema: schema(s) } },
});
const problems = Object.fromEntries(
  [
    ['400', 'Invalid request'],
    ['401', 'Missing or wrong API key'],
    ['404', 'Not found'],
  ].map(([code, description]) => [code, { description, content: { 'application/problem+json': { schema: schema(Problem) } } }]),
);
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Baton API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/tasks': {
        post: {
          summary: 'Submit a task',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/json': { schema: schema(CreateTaskBody, 'input') } } },
          responses: {
            '202': ok('Accepted', CreateTaskResponse),
            '409': { description: 'Idempotency-Key reused with another body' },
            '413': { description: 'Body too large' },
            ...problems,
          },
        },
        get: {
          summary: 'List tasks, newest first',
          parameters: queryParams(ListTasksQuery),
          responses: { '200': ok('A page of tasks', z.object({ tasks: z.array(TaskSummary), next: z.string().optional() })), ...problems },
        },
      },
      '/tasks/{id}': {
        get: { summary: 'A task with its plan and step statuses', parameters: [idParam], responses: { '200': ok('The task', TaskView), ...problems } },
      },
      '/tasks/{id}/events': {
        get: {
          summary: 'The task audit trail, ordered by seq',
          parameters: [idParam, ...queryParams(ListEventsQuery)],
          responses: { '200': ok('A page of events', z.object({ events: z.array(TaskEvent), next: z.number().int().optional() })), ...problems },
        },
      },
      '/tasks/{id}/artifacts': {
        get: { summary: 'Artifacts of a task', parameters: [idParam], responses: { '200': ok('Artifacts', z.object({ artifacts: z.array(ArtifactRef) })), ...problems } },
      },
      '/tasks/{id}/artifacts/{artifactId}': {
        get: {
          summary: 'The bytes of one artifact',
          parameters: [idParam, { name: 'artifactId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'The artifact bytes, with its content type' }, ...problems },
        },
      },
      '/tasks/{id}/cancel': {
        post: {
          summary: 'Cancel a task (idempotent)',
          parameters: [idParam],
          responses: { '202': ok('Cancelled', z.object({ taskId: z.string(), status: z.literal('CANCELLED') })), '409': { description: 'The task already ended' }, ...problems },
        },
      },
      '/tasks/{id}/redrive': {
        post: {
          summary: 'Re-run what did not succeed in a FAILED or DEGRADED task',
          parameters: [idParam],
          responses: { '202': ok('Queued', z.object({ taskId: z.string(), status: z.literal('QUEUED'), run: z.number().int() })), '409': { description: 'The task cannot be redriven now' }, ...problems },
        },
      },
      '/dead-letters': {
        get: {
          summary: 'Failed runs that have not been redriven (include=all: also redriven ones)',
          parameters: [
            { name: 'include', in: 'query', required: false, schema: { type: 'string', enum: ['open', 'all'] } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } },
          ],
          responses: { '200': { description: 'Dead letters, newest first' }, ...problems },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'OK' } } } },
    },
  };
  return cached;
}
