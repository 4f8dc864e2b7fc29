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
  HttpProblemError,
  PayloadTooLargeError,
  type ProblemIssue,
  UnauthorizedError,
  ValidationError,
} from '../core/errors.js';
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

/** RFC 9457 problem document. */
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
      ...extra,
    }),
  };
}

/** Errors become problem documents; only 4xx details reach the client, 5xx are logged and generic. */
export function problemErrors(
  log: (line: Record<string, unknown>) => void,
): middy.MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> {
  return {
    onError: async (request) => {
      const err = request.error as Error & { statusCode?: number; expose?: boolean };
      const instance = request.event?.rawPath;
      if (err instanceof HttpProblemError && err.status < 500) {
        request.response = problem(err.status, err.title, err.message, {
          instance,
          ...(err.issues ? { issues: err.issues } : {}),
          ...(err.extra ?? {}),
        });
        return;
      }
      if ((err as { statusCode?: number })?.statusCode === 404) {
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
  if (!/^application\/(.+\+)?json/i.test(type)) {
    throw new ValidationError(`Send the body as application/json (got ${type}).`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new ValidationError(`The body is not valid JSON: ${(err as Error).message}`);
  }
  return validate(schema, value, 'body');
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
