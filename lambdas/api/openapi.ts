/**
 * The OpenAPI 3.1 document, generated from the zod contracts (zod 4 emits JSON Schema 2020-12).
 *
 * Named schemas live in `components.schemas`: each zod schema converted here is hoisted there
 * with the `$defs` zod emits for it (a recursive schema such as JsonValue, named by its
 * `.meta({ id })`), and every `#/$defs/…` reference is rewritten to its component. Nothing is
 * left dangling; `test/unit/openapi.test.ts` lints the document with Redocly's recommended rules.
 * The typed client (`lib/client/schema.d.ts`) is generated from this document (`npm run gen:client`).
 */
import * as z from 'zod';
import {
  ApprovalListing,
  ApprovalRecord,
  DecisionBody,
  LinkDecisionForm,
  ListApprovalsQuery,
} from '../core/approvals.js';
import { TaskEvent } from '../core/events.js';
import type { DeadLetterRecord } from '../core/ports.js';
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

type Io = 'input' | 'output';
type JsonSchema = Record<string, unknown>;

/** An RFC 9457 problem document; extension members (`issues`, `taskStatus`, `decided`) may follow. */
export const Problem = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/** What API Gateway itself answers (IAM refusal, throttling, body over 10 MB): not a problem document. */
const GatewayMessage = z.object({ message: z.string() });

/** A dead letter as `GET /dead-letters` lists it (the store's DeadLetterRecord, checked below). */
const DeadLetter = z.object({
  taskId: z.string(),
  run: z.number().int(),
  goal: z.string(),
  status: z.enum(['OPEN', 'REDRIVEN']),
  at: z.string(),
  error: z.object({ name: z.string(), message: z.string() }),
  failedSteps: z.array(
    z.object({
      stepId: z.string(),
      status: z.string(),
      error: z.object({ name: z.string(), message: z.string() }).optional(),
    }),
  ),
  traceId: z.string(),
  links: z.object({ task: z.string(), events: z.string(), redrive: z.string() }),
  redrivenAt: z.string().optional(),
});
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const deadLetterMatchesStore: Same<z.infer<typeof DeadLetter>, DeadLetterRecord> = true;
void deadLetterMatchesStore;

const DeadLettersQuery = z.object({
  include: z.enum(['open', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The `components.schemas` under construction, and the conversion that fills it. */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};

  /** `s` as the component `name` (with its $defs hoisted); returns a `$ref` to it. */
  ref(name: string, s: z.ZodType, io: Io = 'output'): { $ref: string } {
    const ref = { $ref: `#/components/schemas/${name}` };
    this.put(name, this.convert(s, io, ref.$ref));
    return ref;
  }

  /** `s` inline (its $defs hoisted into components). */
  inline(s: z.ZodType, io: Io = 'output'): JsonSchema {
    return this.convert(s, io);
  }

  /** Adds a component; the same name twice must mean the same schema. */
  put(name: string, schema: JsonSchema): void {
    const existing = this.schemas[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(schema)) {
      throw new Error(`OpenAPI: two different schemas named ${name} (give one another name)`);
    }
    this.schemas[name] = schema;
  }

  private convert(s: z.ZodType, io: Io, self?: string): JsonSchema {
    const {
      $schema: _dialect,
      $defs,
      ...root
    } = z.toJSONSchema(s, {
      io,
      unrepresentable: 'any',
      target: 'draft-2020-12',
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    const ids = Object.keys($defs ?? {});
    for (const id of ids) {
      if (id.startsWith('__schema')) {
        throw new Error(`OpenAPI: a recursive or shared schema without an id (${id}): give it .meta({ id })`);
      }
    }
    const rewriter = (rename: Map<string, string>) => {
      const rewrite = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(rewrite);
        if (!isRecord(v)) return v;
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') {
            if (x === '#') {
              if (!self) throw new Error('OpenAPI: a recursive root schema must be a named component');
              out[k] = self;
            } else if (x.startsWith('#/$defs/')) {
              const target = rename.get(x.slice('#/$defs/'.length));
              if (!target) throw new Error(`OpenAPI: dangling reference ${x}`);
              out[k] = `#/components/schemas/${target}`;
            } else out[k] = x;
          } else out[k] = rewrite(x);
        }
        return out;
      };
      return rewrite;
    };
    // A schema can read differently as input and output (defaults): then the input variant of
    // its $defs gets a suffix.
    let rewrite = rewriter(new Map(ids.map((id) => [id, id])));
    const clash = ids.some((id) => {
      const existing = this.schemas[id];
      return existing && JSON.stringify(existing) !== JSON.stringify(rewrite($defs?.[id]));
    });
    const names = new Map(ids.map((id) => [id, clash && io === 'input' ? `${id}Input` : id]));
    rewrite = rewriter(names);
    for (const id of ids) this.put(names.get(id) as string, rewrite($defs?.[id]) as JsonSchema);
    return rewrite(root) as JsonSchema;
  }
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const html = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});

/** Error responses, in `components.responses`, referenced by the operations that can answer them. */
const ERRORS = {
  '400': ['BadRequest', 'Invalid request: `detail` says what to fix, `issues` lists each problem'],
  '401': ['Unauthorized', 'Local mode: missing or wrong API key (`Authorization: Bearer <key>`)'],
  '403': [
    'Forbidden',
    'AWS: the IAM authorizer refused the request (unsigned, bad signature, or no execute-api:Invoke)',
  ],
  '404': ['NotFound', 'No such resource'],
  '409': ['Conflict', 'The request conflicts with the current state'],
  '410': ['Gone', 'The approval expired, or its gate is no longer waiting'],
  '413': [
    'PayloadTooLarge',
    'The body is over 256 KiB (problem document), or over 10 MB (API Gateway message)',
  ],
  '429': ['TooManyRequests', 'Throttled by the API stage (API Gateway message)'],
  '500': ['InternalError', 'The request failed on our side; it is safe to retry'],
} as const;
type ErrorCode = keyof typeof ERRORS;

/** Which error responses an operation documents: every authenticated route can answer these. */
const AUTHED: ErrorCode[] = ['401', '403', '429', '500'];

function errorResponses(codes: ErrorCode[], overrides: Partial<Record<ErrorCode, string>> = {}) {
  return Object.fromEntries(
    codes.map((code) => {
      const ref = { $ref: `#/components/responses/${ERRORS[code][0]}` };
      const description = overrides[code];
      return [code, description ? { ...ref, description } : ref];
    }),
  );
}

function buildDocument(): Record<string, unknown> {
  const c = new Components();
  const problem = c.ref('Problem', Problem);
  const gateway = c.ref('GatewayMessage', GatewayMessage);
  const responses = Object.fromEntries(
    Object.entries(ERRORS).map(([code, [name, description]]) => {
      const gatewayOnly = code === '403' || code === '429';
      const content = gatewayOnly
        ? json(gateway)
        : {
            'application/problem+json': { schema: problem },
            ...(code === '413' ? json(gateway) : {}),
          };
      return [name, { description, content }];
    }),
  );

  const queryParams = (s: z.ZodObject, descriptions: Record<string, string> = {}) =>
    Object.entries(s.shape).map(([name, field]) => ({
      name,
      in: 'query',
      required: false,
      ...(descriptions[name] ? { description: descriptions[name] } : {}),
      schema: c.inline(field as z.ZodType, 'input'),
    }));
  const idParam = {
    name: 'id',
    in: 'path',
    required: true,
    description: 'Task or approval id (1-128 of A-Z a-z 0-9 _ -)',
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' },
  };
  const ok = (description: string, schema: unknown) => ({ description, content: json(schema) });

  // The audit trail: one named schema per event type, discriminated by `type`.
  const members = TaskEvent.options.map((o) => {
    const type = o.shape.type.value;
    const ref = c.ref(`${type}Event`, o);
    (c.schemas[`${type}Event`] as JsonSchema).title = `${type}Event`;
    return { type, ref };
  });
  c.put('TaskEvent', {
    oneOf: members.map((m) => m.ref),
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(members.map((m) => [m.type, m.ref.$ref])),
    },
  });
  c.put('EventPage', {
    type: 'object',
    properties: {
      events: { type: 'array', items: { $ref: '#/components/schemas/TaskEvent' } },
      next: {
        type: 'integer',
        description: 'Present when there are more events: pass it as `after` for the next page',
      },
      heldBack: {
        type: 'boolean',
        description:
          'Present (true) when the events after the last one given wait behind a smaller seq that may still be written (a writer numbers its events before it stores them): read again shortly with `after` the last seq given. A number missing for 10 s is a gap for good and is passed over.',
      },
    },
    required: ['events'],
    additionalProperties: false,
  });

  const taskView = c.ref('TaskView', TaskView);
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
    '429': { $ref: '#/components/responses/TooManyRequests' },
    '500': html('The page failed on our side'),
  };
  const form = c.inline(LinkDecisionForm, 'input') as { properties: Record<string, unknown> };
  form.properties.output = {
    type: 'string',
    description: 'Review gates with approve: the replacement output as JSON text',
  };

  const paths = {
    '/tasks': {
      post: {
        operationId: 'submitTask',
        tags: ['tasks'],
        summary: 'Submit a task',
        description:
          'A goal, and optionally a plan (a DAG of steps), inputs and a policy. Without a plan the planner makes one.',
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Same key and same body: the same task; same key and another body: 409',
            schema: { type: 'string', maxLength: 256 },
          },
        ],
        requestBody: { required: true, content: json(c.ref('CreateTaskRequest', CreateTaskBody, 'input')) },
        responses: {
          '202': ok('Accepted', c.ref('CreateTaskResponse', CreateTaskResponse)),
          ...errorResponses(['400', ...AUTHED, '409', '413'], {
            '409': 'The Idempotency-Key was used with another body',
          }),
        },
      },
      get: {
        operationId: 'listTasks',
        tags: ['tasks'],
        summary: 'List tasks, newest first',
        parameters: queryParams(ListTasksQuery, { cursor: 'The `next` of the previous page' }),
        responses: {
          '200': ok(
            'A page of tasks',
            c.ref('TaskPage', z.object({ tasks: z.array(TaskSummary), next: z.string().optional() })),
          ),
          ...errorResponses(['400', ...AUTHED]),
        },
      },
    },
    '/tasks/{id}': {
      get: {
        operationId: 'getTask',
        tags: ['tasks'],
        summary: 'A task with its plan, step statuses and result',
        parameters: [idParam],
        responses: { '200': ok('The task', taskView), ...errorResponses(['400', ...AUTHED, '404']) },
      },
    },
    '/tasks/{id}/status': {
      get: {
        operationId: 'getTaskStatus',
        tags: ['tasks'],
        summary: 'The task status as listed: one read, for pollers',
        description:
          'The task summary from its one stored record (what GET /tasks lists), without the plan, the steps and the trail that GET /tasks/{id} folds. The status is the projection the store writes with each status-changing event, so it can trail GET /tasks/{id} by the moment between an event and its projection.',
        parameters: [idParam],
        responses: {
          '200': ok('The task summary', c.ref('TaskSummary', TaskSummary)),
          ...errorResponses(['400', ...AUTHED, '404']),
        },
      },
    },
    '/tasks/{id}/events': {
      get: {
        operationId: 'listTaskEvents',
        tags: ['tasks'],
        summary: 'The task audit trail, ordered by seq',
        parameters: [
          idParam,
          ...queryParams(ListEventsQuery, {
            after: 'Events with a greater seq (the `next` of the previous page)',
          }),
        ],
        responses: {
          '200': ok('A page of events', { $ref: '#/components/schemas/EventPage' }),
          ...errorResponses(['400', ...AUTHED, '404']),
        },
      },
    },
    '/tasks/{id}/events/stream': {
      get: {
        operationId: 'streamTaskEvents',
        tags: ['tasks'],
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
          ...errorResponses(['400', ...AUTHED, '404']),
        },
      },
    },
    '/tasks/{id}/artifacts': {
      get: {
        operationId: 'listTaskArtifacts',
        tags: ['artifacts'],
        summary: 'Artifacts of a task',
        parameters: [idParam],
        responses: {
          '200': ok('Artifacts', c.ref('ArtifactList', z.object({ artifacts: z.array(ArtifactRef) }))),
          ...errorResponses(['400', ...AUTHED, '404']),
        },
      },
    },
    '/tasks/{id}/artifacts/{artifactId}': {
      get: {
        operationId: 'getArtifact',
        tags: ['artifacts'],
        summary: 'The bytes of one artifact',
        parameters: [idParam, { ...idParam, name: 'artifactId', description: 'Artifact id' }],
        responses: {
          '200': {
            description:
              'The artifact bytes (artifacts up to 4 MiB), with its content type; `x-content-sha256` is their SHA-256',
            headers: {
              'x-content-sha256': { description: 'SHA-256 of the bytes (hex)', schema: { type: 'string' } },
              'x-content-length': { description: 'Size of the bytes', schema: { type: 'string' } },
            },
            content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          },
          '302': {
            description:
              'Larger artifacts: `location` is a presigned S3 URL valid for 5 minutes (follow it without the API credentials); `x-content-sha256` and `x-content-length` describe the bytes it serves',
            headers: {
              location: { description: 'Presigned S3 GET', schema: { type: 'string' } },
              'x-content-sha256': { description: 'SHA-256 of the bytes (hex)', schema: { type: 'string' } },
              'x-content-length': { description: 'Size of the bytes', schema: { type: 'string' } },
            },
          },
          ...errorResponses(['400', ...AUTHED, '404']),
        },
      },
    },
    '/tasks/{id}/cancel': {
      post: {
        operationId: 'cancelTask',
        tags: ['tasks'],
        summary: 'Cancel a task (idempotent)',
        parameters: [idParam],
        responses: {
          '202': ok(
            'Cancelled',
            c.ref('CancelTaskResponse', z.object({ taskId: z.string(), status: z.literal('CANCELLED') })),
          ),
          ...errorResponses(['400', ...AUTHED, '404', '409'], {
            '409': 'The task already ended (`taskStatus` says how)',
          }),
        },
      },
    },
    '/tasks/{id}/redrive': {
      post: {
        operationId: 'redriveTask',
        tags: ['tasks'],
        summary: 'Re-run what did not succeed in a FAILED or DEGRADED task',
        parameters: [idParam],
        responses: {
          '202': ok(
            'Queued',
            c.ref(
              'RedriveTaskResponse',
              z.object({ taskId: z.string(), status: z.literal('QUEUED'), run: z.number().int() }),
            ),
          ),
          ...errorResponses(['400', ...AUTHED, '404', '409'], {
            '409': 'The task cannot be redriven now (`taskStatus` says why)',
          }),
        },
      },
    },
    '/dead-letters': {
      get: {
        operationId: 'listDeadLetters',
        tags: ['operations'],
        summary: 'Failed runs that have not been redriven (include=all: also redriven ones)',
        parameters: queryParams(DeadLettersQuery),
        responses: {
          '200': ok(
            'Dead letters, newest first',
            c.ref('DeadLetterList', z.object({ deadLetters: z.array(DeadLetter) })),
          ),
          ...errorResponses(['400', ...AUTHED]),
        },
      },
    },
    '/approvals': {
      get: {
        operationId: 'listApprovals',
        tags: ['approvals'],
        summary: 'Approvals by status (default PENDING), newest first, each with its signed link',
        parameters: queryParams(ListApprovalsQuery),
        responses: {
          '200': ok('Approvals', c.ref('ApprovalList', z.object({ approvals: z.array(ApprovalListing) }))),
          ...errorResponses(['400', ...AUTHED]),
        },
      },
    },
    '/approvals/{id}/decision': {
      post: {
        operationId: 'decideApproval',
        tags: ['approvals'],
        summary:
          'Decide an approval as the API principal (approve | reject; a review also: retry, or approve with a replacement summary/output)',
        parameters: [idParam],
        requestBody: { required: true, content: json(c.ref('DecisionRequest', DecisionBody, 'input')) },
        responses: {
          '200': ok(
            'The decided approval',
            c.ref('DecisionResponse', z.object({ approval: ApprovalRecord })),
          ),
          ...errorResponses(['400', ...AUTHED, '404', '409', '410', '413'], {
            '409': 'Already decided (the problem has `decided`: decision, approver, at, via)',
          }),
        },
      },
    },
    '/approvals/{id}': {
      get: {
        operationId: 'viewApprovalPage',
        tags: ['approvals'],
        summary:
          'The approval page of a signed link (no API auth: the signature is the credential); changes nothing',
        security: [],
        parameters: linkParams,
        responses: { '200': html('What is being approved, and the decision form'), ...linkPages },
      },
      post: {
        operationId: 'submitApprovalPage',
        tags: ['approvals'],
        summary:
          "Decide through the page's form (no API auth: the signed link, the page's CSRF token and a same-origin POST)",
        security: [],
        parameters: [idParam],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: form } } },
        responses: { '200': html('The decision, recorded'), '400': html('Invalid form'), ...linkPages },
      },
    },
    '/healthz': {
      get: {
        operationId: 'healthCheck',
        tags: ['operations'],
        summary: 'Liveness',
        security: [],
        responses: {
          '200': ok('OK', c.ref('Health', z.object({ ok: z.literal(true) }))),
          ...errorResponses(['429', '500']),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['operations'],
        summary: 'This document (locally served without a key; in AWS behind IAM like the other routes)',
        responses: {
          '200': { description: 'The OpenAPI 3.1 document', content: json({ type: 'object' }) },
          ...errorResponses(AUTHED),
        },
      },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Baton API',
      version: '1',
      summary: 'Submit multi-agent tasks, follow them, read their artifacts, decide their approvals',
      description:
        'Errors are RFC 9457 problem documents (`application/problem+json`) with a `detail` that says what to fix; validation errors list `issues: [{ path, message }]`. API Gateway answers some errors itself (403 from the IAM authorizer, 429 throttling, 413 over 10 MB) with `{ "message" }`.',
      license: { name: 'UNLICENSED' },
    },
    servers: [
      {
        url: 'http://127.0.0.1:3000',
        description: 'Local mode (`npm start`): bearer API key from .baton/api-key',
      },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'AWS: the stack output ApiUrl; requests signed with SigV4 (service execute-api)',
        variables: {
          apiId: { default: 'API_ID', description: 'The HTTP API id (stack output ApiUrl)' },
          region: { default: 'us-east-1', description: 'The AWS region of the stack' },
        },
      },
    ],
    tags: [
      { name: 'tasks', description: 'Submit, follow, cancel and redrive tasks' },
      { name: 'artifacts', description: 'What steps produced' },
      { name: 'approvals', description: 'Human approval gates: API decisions and signed-link pages' },
      { name: 'operations', description: 'Dead letters, health, this document' },
    ],
    security: [{ bearer: [] }, { sigv4: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Local mode: the key in .baton/api-key' },
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'AWS: a SigV4 signature (service execute-api) by a principal allowed execute-api:Invoke',
        },
      },
      schemas: Object.fromEntries(Object.entries(c.schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses,
    },
  };
}

let cached: Record<string, unknown> | undefined;

export function openApiDocument(): Record<string, unknown> {
  cached ??= buildDocument();
  return cached;
}
