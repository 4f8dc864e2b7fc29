/** The HTTP routes: each parses its request, calls a use case, shapes the response. */
import type { Route } from '@middy/http-router';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import * as z from 'zod';
import { DecisionBody, ListApprovalsQuery } from '../core/approvals.js';
import { attachment } from '../core/attachment.js';
import { ValidationError } from '../core/errors.js';
import {
  CreateTaskBody,
  CreateTaskResponse,
  ListEventsQuery,
  ListTasksQuery,
  PathId,
  StreamEventsQuery,
} from '../core/schemas.js';
import {
  htmlPageResponse,
  renderApprovalPage,
  renderConflictPage,
  renderDecisionResultPage,
  renderErrorPage,
} from './approval-page.js';
import {
  decideApproval,
  isSameOriginPost,
  listApprovals,
  type PageOutcome,
  submitApprovalForm,
  viewApproval,
} from './approvals.js';
import { sseFrames, streamCursor, streamTaskEvents } from './event-stream.js';
import { type HttpEvent, type HttpResult, json, parseBody, validate } from './http.js';
import { openApiDocument } from './openapi.js';
import {
  type ApiDeps,
  cancelTask,
  getTaskStatus,
  getTaskView,
  listDeadLetters,
  listTaskArtifacts,
  listTaskEvents,
  listTasks,
  readArtifact,
  redriveTask,
  submitTask,
  taskLinks,
} from './tasks.js';

const DeadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(25),
  include: z.enum(['open', 'all']).default('open'),
});

type R = Route<HttpEvent, APIGatewayProxyResultV2>;

/**
 * A path parameter, percent-decoded and checked (PathId: the charset and length of every id the
 * API hands out): a malformed escape or an id no resource can have is a 400, not a store call.
 */
const param = (e: HttpEvent, name: string): string => {
  const raw = e.pathParameters?.[name] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ValidationError(`The path segment {${name}} is not valid percent-encoding.`, [
      {
        path: `path.${name}`,
        message: 'is not valid percent-encoding (a "%" must start a %XX escape of UTF-8)',
      },
    ]);
  }
  return validate(PathId, decoded, `path.${name}`);
};

/** A query parameter given exactly once (API Gateway joins repeated ones with commas). */
const single = (e: HttpEvent, name: string) => {
  const v = e.queryStringParameters?.[name];
  return v === undefined || v.includes(',') ? undefined : v;
};

/** The API's own URL: BATON_PUBLIC_URL, else the host the request came to. */
const ownUrl = (deps: ApiDeps, e: HttpEvent) =>
  (deps.publicUrl() ?? `https://${e.requestContext?.domainName ?? e.headers?.host ?? 'localhost'}`).replace(
    /\/+$/,
    '',
  );

/**
 * Who decides through the API: the IAM principal in AWS, the console's Cognito user (JWT
 * authorizer: `cognito:<username>`), the API key locally.
 */
export function principal(e: HttpEvent): string {
  const authorizer = (
    e.requestContext as {
      authorizer?: { iam?: { userArn?: string }; jwt?: { claims?: Record<string, unknown> } };
    }
  ).authorizer;
  if (authorizer?.iam?.userArn) return authorizer.iam.userArn;
  const claims = authorizer?.jwt?.claims;
  const user = claims?.username ?? claims?.['cognito:username'] ?? claims?.email ?? claims?.sub;
  if (typeof user === 'string' && user) return `cognito:${user}`;
  return e.headers?.authorization ? 'api-key' : 'api';
}

function pageResponse(outcome: PageOutcome, formAction: string): HttpResult {
  switch (outcome.kind) {
    case 'approval':
      return htmlPageResponse(200, renderApprovalPage({ ...outcome.input, formAction }));
    case 'result':
      return htmlPageResponse(
        200,
        renderDecisionResultPage({
          approval: outcome.record,
          decision: outcome.record.decision as NonNullable<typeof outcome.record.decision>,
        }),
      );
    case 'conflict':
      return htmlPageResponse(409, renderConflictPage(outcome.decision));
    case 'error':
      return htmlPageResponse(outcome.status, renderErrorPage(outcome.status));
  }
}

/** Link routes answer with pages, errors included: a person reads them, not a client. */
function pageRoute(deps: ApiDeps, fn: (e: HttpEvent, id: string) => Promise<PageOutcome>) {
  return async (e: HttpEvent): Promise<HttpResult> => {
    try {
      const id = param(e, 'id');
      const base = new URL(ownUrl(deps, e));
      const formAction = `${base.pathname.replace(/\/+$/, '')}/approvals/${encodeURIComponent(id)}`;
      return pageResponse(await fn(e, id), formAction);
    } catch (err) {
      // A link whose id cannot be an approval id (bad escape, wrong charset or length) is not valid.
      if (err instanceof ValidationError) return htmlPageResponse(403, renderErrorPage(403));
      deps.log?.({
        level: 'error',
        message: 'Approval page failed',
        error: { name: (err as Error).name, message: (err as Error).message },
      });
      return htmlPageResponse(500, renderErrorPage(500));
    }
  };
}

function formBody(e: HttpEvent): string {
  const raw = e.body ? (e.isBase64Encoded ? Buffer.from(e.body, 'base64').toString('utf8') : e.body) : '';
  const type = e.headers?.['content-type'] ?? '';
  return /^application\/x-www-form-urlencoded/i.test(type) && raw.length <= 64 * 1024 ? raw : '';
}

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
        const payload = CreateTaskResponse.parse({
          taskId: res.taskId,
          status: res.status,
          links: taskLinks(res.taskId),
        });
        return json(202, payload, { location: `/tasks/${res.taskId}` });
      },
    },
    {
      method: 'GET',
      path: '/tasks',
      handler: async (e: HttpEvent) =>
        json(200, await listTasks(deps, validate(ListTasksQuery, e.queryStringParameters ?? {}, 'query'))),
    },
    {
      method: 'GET',
      path: '/tasks/{id}',
      handler: async (e: HttpEvent) => json(200, await getTaskView(deps, param(e, 'id'))),
    },
    {
      method: 'GET',
      path: '/tasks/{id}/status',
      handler: async (e: HttpEvent) => json(200, await getTaskStatus(deps, param(e, 'id'))),
    },
    {
      method: 'GET',
      path: '/tasks/{id}/events',
      handler: async (e: HttpEvent) =>
        json(
          200,
          await listTaskEvents(
            deps,
            param(e, 'id'),
            validate(ListEventsQuery, e.queryStringParameters ?? {}, 'query'),
          ),
        ),
    },
    {
      method: 'GET',
      path: '/tasks/{id}/events/stream',
      handler: async (e: HttpEvent) => {
        const q = validate(StreamEventsQuery, e.queryStringParameters ?? {}, 'query');
        const after = streamCursor(e.headers?.['last-event-id'], q.after);
        const batch = await streamTaskEvents(deps, param(e, 'id'), { after, wait: q.wait });
        return {
          statusCode: 200,
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
          },
          body: sseFrames(batch),
        };
      },
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
        json(
          200,
          await listDeadLetters(deps, validate(DeadLettersQuery, e.queryStringParameters ?? {}, 'query')),
        ),
    },
    {
      method: 'GET',
      path: '/approvals',
      handler: async (e: HttpEvent) =>
        json(
          200,
          await listApprovals(
            deps,
            validate(ListApprovalsQuery, e.queryStringParameters ?? {}, 'query'),
            ownUrl(deps, e),
          ),
        ),
    },
    {
      method: 'POST',
      path: '/approvals/{id}/decision',
      handler: async (e: HttpEvent) => {
        const body = parseBody(e, DecisionBody);
        const approval = await decideApproval(deps, param(e, 'id'), {
          ...body,
          approver: principal(e),
          via: 'api',
        });
        return json(200, { approval });
      },
    },
    {
      method: 'GET',
      path: '/approvals/{id}',
      handler: pageRoute(deps, (e, id) =>
        viewApproval(deps, { approvalId: id, exp: single(e, 'exp'), sig: single(e, 'sig') }),
      ),
    },
    {
      method: 'POST',
      path: '/approvals/{id}',
      handler: pageRoute(deps, (e, id) => {
        const host = e.headers?.host ?? e.requestContext?.domainName ?? '';
        const origins = [new URL(ownUrl(deps, e)).origin, `https://${host}`, `http://${host}`];
        return submitApprovalForm(deps, id, formBody(e), isSameOriginPost(e.headers ?? {}, origins));
      }),
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
        const download = await readArtifact(deps, param(e, 'id'), param(e, 'artifactId'));
        const { meta } = download;
        const described = { 'x-content-sha256': meta.sha256, 'x-content-length': String(meta.size) };
        if (download.kind === 'redirect') {
          // Past what a Lambda response carries: the client follows a short-lived presigned URL.
          return {
            statusCode: 302,
            headers: { location: download.url, 'cache-control': 'no-store', ...described },
            body: '',
          };
        }
        return {
          statusCode: 200,
          isBase64Encoded: true,
          headers: {
            'content-type': meta.contentType,
            'content-length': String(download.body.byteLength),
            ...described,
            'content-disposition': attachment(meta.name),
            'x-content-type-options': 'nosniff',
          },
          body: Buffer.from(download.body).toString('base64'),
        };
      },
    },
  ];
}
