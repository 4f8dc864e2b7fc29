/** The OpenAPI 3.1 document, generated from the zod contracts (zod 4 emits JSON Schema 2020-12). */
import { z } from 'zod';
import {
  ApprovalListing,
  ApprovalRecord,
  DecisionBody,
  LinkDecisionForm,
  ListApprovalsQuery,
} from '../core/approvals.js';
import { TaskEvent } from '../core/events.js';
import {
  ArtifactRef,
  CreateTaskBody,
  CreateTaskResponse,
  ListEventsQuery,
  ListTasksQuery,
  StreamEventsQuery,
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
  ].map(([code, description]) => [
    code,
    { description, content: { 'application/problem+json': { schema: schema(Problem) } } },
  ]),
);
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const html = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});
const linkParams = [
  idParam,
  {
    name: 'exp',
    in: 'query',
    required: true,
    description: 'Link expiry, unix seconds',
    schema: { type: 'string' },
  },
  {
    name: 'sig',
    in: 'query',
    required: true,
    description: 'HMAC-SHA256 of id and exp (base64url)',
    schema: { type: 'string' },
  },
];
const linkPages = {
  '403': html(
    'Bad signature, or a POST not from the page (Origin / Sec-Fetch-Site, CSRF token); says nothing about the task',
  ),
  '404': html('No such approval'),
  '409': html('Already decided: what, by whom, when'),
  '410': html('The link expired, or the gate closed'),
};

/** The page's form: like the JSON body, but a review's `output` is JSON text in a textarea. */
function linkFormSchema(): Record<string, unknown> {
  const form = schema(LinkDecisionForm, 'input') as { properties: Record<string, unknown>; $defs?: unknown };
  form.properties.output = {
    type: 'string',
    description: 'Review gates with approve: the replacement output as JSON text',
  };
  delete form.$defs;
  return form;
}

/**
 * A page of the audit trail: `events` items are the union of one schema per event type, each
 * titled `<Type>Event`, discriminated by `type`.
 */
function eventsPageSchema(): Record<string, unknown> {
  const titles = new Map<unknown, string>(TaskEvent.options.map((o) => [o, `${o.shape.type.value}Event`]));
  return z.toJSONSchema(z.object({ events: z.array(TaskEvent), next: z.number().int().optional() }), {
    io: 'output',
    unrepresentable: 'any',
    target: 'draft-2020-12',
    override: ({ zodSchema, jsonSchema }) => {
      const title = titles.get(zodSchema);
      if (title) jsonSchema.title = title;
      if (zodSchema === TaskEvent) jsonSchema.discriminator = { propertyName: 'type' };
    },
  });
}

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
          parameters: [
            { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(CreateTaskBody, 'input') } },
          },
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
          responses: {
            '200': ok(
              'A page of tasks',
              z.object({ tasks: z.array(TaskSummary), next: z.string().optional() }),
            ),
            ...problems,
          },
        },
      },
      '/tasks/{id}': {
        get: {
          summary: 'A task with its plan and step statuses',
          parameters: [idParam],
          responses: { '200': ok('The task', TaskView), ...problems },
        },
      },
      '/tasks/{id}/events': {
        get: {
          summary: 'The task audit trail, ordered by seq',
          parameters: [idParam, ...queryParams(ListEventsQuery)],
          responses: {
            '200': {
              description: 'A page of events',
              content: { 'application/json': { schema: eventsPageSchema() } },
            },
            ...problems,
          },
        },
      },
      '/tasks/{id}/events/stream': {
        get: {
          summary:
            'The audit trail as server-sent events (long-poll SSE): the events after the cursor, then the connection closes with a retry hint',
          description:
            'Answers the events after `Last-Event-ID` (what EventSource sends on reconnect) or `?after=`, waiting up to `wait` seconds for the first new one, then closes: API Gateway HTTP APIs buffer Lambda responses, so the stream is a sequence of short answers. Each event has its `seq` as `id`, its type as `event` and the event (as in GET /tasks/{id}/events) as JSON `data`; the answer starts with `retry: <ms>` (0 when more events wait). Once the task has ended and nothing is left after the cursor the answer is one `end` event with `{ status }`.',
          parameters: [
            idParam,
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'The seq of the last event received (wins over `after`)',
              schema: { type: 'string', pattern: '^[0-9]+$' },
            },
            ...queryParams(StreamEventsQuery),
          ],
          responses: {
            '200': {
              description:
                'Events as text/event-stream frames (`id`, `event`, `data`), then `end` once the task ended',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...problems,
          },
        },
      },
      '/tasks/{id}/artifacts': {
        get: {
          summary: 'Artifacts of a task',
          parameters: [idParam],
          responses: { '200': ok('Artifacts', z.object({ artifacts: z.array(ArtifactRef) })), ...problems },
        },
      },
      '/tasks/{id}/artifacts/{artifactId}': {
        get: {
          summary: 'The bytes of one artifact',
          parameters: [
            idParam,
            { name: 'artifactId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description:
                'The artifact bytes (artifacts up to 4 MiB), with its content type; `x-content-sha256` is their SHA-256',
            },
            '302': {
              description:
                'Larger artifacts: `location` is a presigned S3 URL valid for 5 minutes (follow it without the API credentials); `x-content-sha256` and `x-content-length` describe the bytes it serves',
            },
            ...problems,
          },
        },
      },
      '/tasks/{id}/cancel': {
        post: {
          summary: 'Cancel a task (idempotent)',
          parameters: [idParam],
          responses: {
            '202': ok('Cancelled', z.object({ taskId: z.string(), status: z.literal('CANCELLED') })),
            '409': { description: 'The task already ended' },
            ...problems,
          },
        },
      },
      '/tasks/{id}/redrive': {
        post: {
          summary: 'Re-run what did not succeed in a FAILED or DEGRADED task',
          parameters: [idParam],
          responses: {
            '202': ok(
              'Queued',
              z.object({ taskId: z.string(), status: z.literal('QUEUED'), run: z.number().int() }),
            ),
            '409': { description: 'The task cannot be redriven now' },
            ...problems,
          },
        },
      },
      '/dead-letters': {
        get: {
          summary: 'Failed runs that have not been redriven (include=all: also redriven ones)',
          parameters: [
            {
              name: 'include',
              in: 'query',
              required: false,
              schema: { type: 'string', enum: ['open', 'all'] },
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 100 },
            },
          ],
          responses: { '200': { description: 'Dead letters, newest first' }, ...problems },
        },
      },
      '/approvals': {
        get: {
          summary: 'Approvals by status (default PENDING), newest first, each with its signed link',
          parameters: queryParams(ListApprovalsQuery),
          responses: {
            '200': ok('Approvals', z.object({ approvals: z.array(ApprovalListing) })),
            ...problems,
          },
        },
      },
      '/approvals/{id}/decision': {
        post: {
          summary:
            'Decide an approval as the API principal (approve | reject; a review also: retry, or approve with a replacement summary/output)',
          parameters: [idParam],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(DecisionBody, 'input') } },
          },
          responses: {
            '200': ok('The decided approval', z.object({ approval: ApprovalRecord })),
            '409': {
              description: 'Already decided (the problem has `decided`: decision, approver, at, via)',
            },
            '410': { description: 'Expired, or the gate is no longer waiting' },
            ...problems,
          },
        },
      },
      '/approvals/{id}': {
        get: {
          summary:
            'The approval page of a signed link (no API auth: the signature is the credential); changes nothing',
          security: [],
          parameters: linkParams,
          responses: { '200': html('What is being approved, and the decision form'), ...linkPages },
        },
        post: {
          summary:
            "Decide through the page's form (no API auth: the signed link, the page's CSRF token and a same-origin POST)",
          security: [],
          parameters: [idParam],
          requestBody: {
            required: true,
            content: { 'application/x-www-form-urlencoded': { schema: linkFormSchema() } },
          },
          responses: { '200': html('The decision, recorded'), '400': html('Invalid form'), ...linkPages },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'OK' } } } },
    },
  };
  return cached;
}
