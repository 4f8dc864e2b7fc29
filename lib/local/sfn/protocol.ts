/**
 * The awsJson1_0 protocol of the AWS SDK v3 SFN client: `POST /` with
 * `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body; service errors are 400s with
 * `{"__type": name, "message": ...}`. Also the request field readers and the pagination every
 * operation shares.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isObject, type LogSink, SfnServiceError } from './types.js';

const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const TARGET_PREFIX = 'AWSStepFunctions.';

/** The request as received (for authentication: local IAM verifies its SigV4 signature). */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One operation: its name (the part after `AWSStepFunctions.`), its JSON body and the request. */
export type OperationHandler = (
  operation: string,
  body: Record<string, unknown>,
  request: ReceivedRequest,
) => Promise<Record<string, unknown>>;

/** A refusal the handler answers itself (local IAM's AccessDenied): status, headers, body. */
export class WireResponseError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: string,
  ) {
    super(body);
    this.name = 'WireResponseError';
  }
}

export interface AwsJsonEndpoint {
  url: string;
  /** One request read whole, answered without the HTTP server (the sandboxes' in-process transport). */
  handle(req: AwsJsonRequest & { body: Buffer }): ReturnType<typeof answerAwsJson>;
  close(): Promise<void>;
}

/** Serves `handle` over HTTP on `host:port` (0 = any free port). */
export async function listenAwsJson(
  handle: OperationHandler,
  log: LogSink,
  port: number,
  host: string,
): Promise<AwsJsonEndpoint> {
  const server = createServer((req, res) => {
    void serveHttp(handle, log, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actualPort } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    handle: (req) => answerAwsJson(handle, log, req),
    close: () => {
      closing ??= closeServer(server);
      return closing;
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function serveHttp(
  handle: OperationHandler,
  log: LogSink,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const answer = await answerAwsJson(handle, log, {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    body: () => readBody(req),
  });
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** A request of the protocol: its body is read once the operation is known to be one. */
export interface AwsJsonRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer | (() => Promise<Buffer>);
}

/** Answers one request (the HTTP server's and the in-process transport's): status, headers, body. */
export async function answerAwsJson(
  handle: OperationHandler,
  log: LogSink,
  req: AwsJsonRequest,
): Promise<{ status: number; headers: Record<string, string | number>; body: Buffer }> {
  const send = (status: number, body: Record<string, unknown>) => {
    const data = Buffer.from(JSON.stringify(body));
    return {
      status,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': data.length,
        'x-amzn-requestid': randomUUID(),
      },
      body: data,
    };
  };
  try {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
      throw new SfnServiceError(
        'UnknownOperationException',
        'Expected POST with X-Amz-Target: AWSStepFunctions.<Operation>',
      );
    }
    const raw = typeof req.body === 'function' ? await req.body() : req.body;
    if (raw.length > MAX_REQUEST_BYTES)
      throw new SfnServiceError('ValidationException', 'Request body too large');
    const text = raw.toString('utf8');
    let body: unknown;
    try {
      body = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      throw new SfnServiceError('SerializationException', 'The request body is not valid JSON', {
        cause: err,
      });
    }
    if (!isObject(body)) {
      throw new SfnServiceError('SerializationException', 'The request body must be a JSON object');
    }
    const request = { method: req.method, url: req.url, headers: req.headers, body: text };
    return send(200, await handle(target.slice(TARGET_PREFIX.length), body, request));
  } catch (err) {
    if (err instanceof WireResponseError) {
      return {
        status: err.status,
        headers: { ...err.headers, 'content-length': Buffer.byteLength(err.body) },
        body: Buffer.from(err.body),
      };
    }
    if (err instanceof SfnServiceError) return send(400, { __type: err.name, message: err.message });
    log({
      level: 'error',
      msg: 'request failed',
      error: err instanceof Error ? err.stack : String(err),
    });
    return send(500, {
      __type: 'InternalFailure',
      message: 'Internal error in the local Step Functions emulator',
    });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_REQUEST_BYTES) throw new SfnServiceError('ValidationException', 'Request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

export function requiredString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== 'string' || value === '') {
    throw new SfnServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new SfnServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' must be a string`,
    );
  }
  return value;
}

/** `maxResults`/`nextToken` paging (the token is the offset, opaque to clients). */
export function paginate<T>(
  items: T[],
  body: Record<string, unknown>,
  defaultSize: number,
): { page: T[]; nextToken?: string } {
  const maxResults =
    typeof body.maxResults === 'number' && body.maxResults > 0
      ? Math.min(body.maxResults, 1000)
      : defaultSize;
  let offset = 0;
  if (typeof body.nextToken === 'string') {
    offset = Number.parseInt(Buffer.from(body.nextToken, 'base64url').toString('utf8'), 10);
    if (!Number.isInteger(offset) || offset < 0) {
      throw new SfnServiceError('ValidationException', 'Invalid nextToken');
    }
  }
  const page = items.slice(offset, offset + maxResults);
  const next = offset + maxResults;
  return next < items.length
    ? { page, nextToken: Buffer.from(String(next)).toString('base64url') }
    : { page };
}
