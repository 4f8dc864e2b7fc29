/** HTTP plumbing for API Gateway v2 events: JSON and problem+json responses, auth, body parsing. */
import { timingSafeEqual } from 'node:crypto';
import type middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import type { ZodType } from 'zod';
import {
  type BatonError,
  ConflictError,
  GoneError,
  NotFoundError,
  PayloadTooLargeError,
  type ProblemIssue,
  UnauthorizedError,
  ValidationError,
} from '../core/errors.js';
import { jsonProblem } from '../core/json.js';
import { LIMITS } from '../core/schemas.js';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** The members RFC 9457 defines: an extension member never replaces one of them. */
const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'instance']);

/**
 * RFC 9457 problem document. `extra` holds extension members (`issues`, a conflict's
 * `taskStatus` …) and `instance`; one named like another standard member is dropped.
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  extra: { instance?: string; issues?: ProblemIssue[]; [k: string]: unknown } = {},
): HttpResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify({
      type: `https://baton.dev/problems/${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
      title,
      status,
      detail,
      ...(typeof extra.instance === 'string' ? { instance: extra.instance } : {}),
      ...Object.fromEntries(Object.entries(extra).filter(([k]) => !PROBLEM_MEMBERS.has(k))),
    }),
  };
}

/**
 * The one table from domain error classes to HTTP: status and problem title. The first class
 * an error is an instance of wins (subclasses such as InvalidCursorError or the approval
 * conflicts inherit their parent's row). Anything not listed is a 500.
 */
const PROBLEM_TABLE: ReadonlyArray<{
  error: abstract new (...args: never[]) => BatonError;
  status: number;
  title: string;
}> = [
  { error: ValidationError, status: 400, title: 'Invalid request' },
  { error: UnauthorizedError, status: 401, title: 'Unauthorized' },
  { error: NotFoundError, status: 404, title: 'Not found' },
  { error: ConflictError, status: 409, title: 'Conflict' },
  { error: GoneError, status: 410, title: 'Gone' },
  { error: PayloadTooLargeError, status: 413, title: 'Payload too large' },
];

/** What the API answers for `err`: status, title, and the extra members of its problem document. */
export interface ProblemMapping {
  status: number;
  title: string;
  detail: string;
  issues?: ProblemIssue[];
  extra?: Record<string, unknown>;
}

/** The problem a domain error maps to, or undefined for anything else (a 500). */
export function problemFor(err: unknown): ProblemMapping | undefined {
  const row = PROBLEM_TABLE.find((r) => err instanceof r.error);
  if (!row || !(err instanceof Error)) return undefined;
  return {
    status: row.status,
    title: row.title,
    detail: err.message,
    ...(err instanceof ValidationError && err.issues ? { issues: err.issues } : {}),
    ...((err instanceof ConflictError || err instanceof GoneError) && err.extra ? { extra: err.extra } : {}),
  };
}

/** Errors become problem documents; only 4xx details reach the client, 5xx are logged and generic. */
export function problemErrors(
  log: (line: Record<string, unknown>) => void,
): middy.MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> {
  return {
    onError: async (request) => {
      const err = request.error as Error & { statusCode?: number };
      const instance = request.event?.rawPath;
      const mapped = problemFor(err);
      if (mapped) {
        request.response = problem(mapped.status, mapped.title, mapped.detail, {
          instance,
          ...(mapped.issues ? { issues: mapped.issues } : {}),
          ...(mapped.extra ?? {}),
        });
        return;
      }
      // http-router's "no such route" (a middy http error with statusCode 404).
      if (err?.statusCode === 404) {
        request.response = problem(
          404,
          'Not found',
          `No route ${request.event?.requestContext?.http?.method} ${instance}`,
          {
            instance,
          },
        );
        return;
      }
      log({
        level: 'error',
        message: 'Unhandled API error',
        error: { name: err?.name, message: err?.message, stack: err?.stack },
      });
      request.response = problem(
        500,
        'Internal error',
        'The request failed on our side; it is safe to retry.',
        {
          instance,
        },
      );
    },
  };
}

/**
 * Local-mode auth: `Authorization: Bearer <key>` when an API key is configured. In AWS the
 * HTTP API authorizes requests (IAM) before they reach the Lambda and no key is configured.
 */
export function bearerAuth(
  apiKey: () => string | undefined,
  open: (path: string) => boolean,
): middy.MiddlewareObj<HttpEvent> {
  return {
    before: async (request) => {
      const key = apiKey();
      if (!key || open(request.event.rawPath)) return;
      const header = request.event.headers?.authorization ?? '';
      const given = Buffer.from(header.replace(/^Bearer\s+/i, ''));
      const want = Buffer.from(key);
      if (!/^Bearer\s+/i.test(header) || given.length !== want.length || !timingSafeEqual(given, want)) {
        throw new UnauthorizedError();
      }
    },
  };
}

/** Parses and validates a JSON body, with messages that say what to fix. */
export function parseBody<T>(event: HttpEvent, schema: ZodType<T>): T {
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  if (Buffer.byteLength(raw, 'utf8') > LIMITS.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `The body is larger than ${LIMITS.maxBodyBytes} bytes; store large data as artifacts.`,
    );
  }
  const type = event.headers?.['content-type'] ?? 'application/json';
  if (!isJsonMediaType(type)) {
    throw new ValidationError(`Send the body as application/json (got ${type}).`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new ValidationError(`The body is not valid JSON: ${(err as Error).message}`);
  }
  // The limits of stored JSON (depth, key length, reserved keys), before the schema walks it.
  const limit = jsonProblem(value);
  if (limit) {
    const path = limit.path ? `body.${limit.path}` : 'body';
    throw new ValidationError(`The body is not valid: ${path}: ${limit.message}`, [
      { path, message: limit.message },
    ]);
  }
  return validate(schema, value, 'body');
}

/** `application/json` or a `+json` type (RFC 6839), parameters allowed: the whole type, not a prefix. */
export function isJsonMediaType(contentType: string): boolean {
  const essence = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return essence === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(essence);
}

export function validate<T>(schema: ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues: ProblemIssue[] = parsed.error.issues.map((i) => ({
    path: [where, ...i.path].join('.'),
    message: i.message,
  }));
  throw new ValidationError(
    `The ${where} is not valid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  );
}
