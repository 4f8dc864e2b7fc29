/**
 * The local Lambda endpoint (AWS_ENDPOINT_URL_LAMBDA): the `Invoke` API for what our functions
 * call, the step runner invoking agent functions. Every request is authenticated (SigV4,
 * verified) and `lambda:InvokeFunction` on the function is checked against the caller's role
 * policies, as in AWS. The answer is Lambda's: 200 with the function's JSON result; a function
 * error is 200 with `X-Amz-Function-Error: Unhandled` and `{errorType, errorMessage, trace}`;
 * an unknown function is 404 ResourceNotFoundException; a request payload over 6 MB is 413.
 * Only RequestResponse and Event invocations of `$LATEST` are served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaInvocationError, type LocalFunction, MAX_RESPONSE_BYTES } from './functions.js';
import { headersOf, type InProcessRequest, type InProcessResponse } from './iam/front.js';
import { AccessDeniedError, type LocalIam, wireError } from './iam/index.js';

/** Lambda's synchronous request payload limit. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface LocalLambdaApi {
  url: string;
  /** One request read whole, answered without the HTTP server (the sandboxes' in-process transport). */
  handle(req: InProcessRequest): Promise<InProcessResponse>;
  close(): Promise<void>;
}

export interface LocalLambdaApiOptions {
  iam: LocalIam;
  /** The function a name or ARN names. */
  functionOf(nameOrArn: string): LocalFunction | undefined;
  log?: (line: Record<string, unknown>) => void;
}

function reply(status: number, headers: Record<string, string>, body: string): InProcessResponse {
  return {
    status,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    body: Buffer.from(body),
  };
}

function serviceError(status: number, code: string, message: string): InProcessResponse {
  return reply(
    status,
    { 'content-type': 'application/json', 'x-amzn-errortype': code },
    JSON.stringify({ Type: 'User', message }),
  );
}

const tooLarge = () =>
  serviceError(
    413,
    'RequestTooLargeException',
    `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation`,
  );

/** Serves one request over HTTP: reads it (refusing one over the limit as it comes), then `answer`. */
async function serve(opts: LocalLambdaApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const write = (r: InProcessResponse) => {
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) {
      write(tooLarge());
      req.destroy();
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: headersOf(req.headers) };
  write(await answer(opts, { ...request, body: Buffer.concat(chunks) }));
}

/** One Invoke request, read whole: its answer (the HTTP server and the in-process transport's). */
export async function answer(opts: LocalLambdaApiOptions, req: InProcessRequest): Promise<InProcessResponse> {
  try {
    return await answerInvoke(opts, req);
  } catch (err) {
    return serviceError(500, 'ServiceException', `local Lambda failed: ${String(err)}`);
  }
}

async function answerInvoke(opts: LocalLambdaApiOptions, req: InProcessRequest): Promise<InProcessResponse> {
  const { body } = req;
  if (body.length > MAX_REQUEST_BYTES) return tooLarge();
  const url = new URL(req.url, 'http://local');
  const match = req.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
  if (!match)
    return serviceError(
      404,
      'UnknownOperationException',
      `Local Lambda serves Invoke only (${req.method} ${url.pathname})`,
    );
  const name = decodeURIComponent(match[1] as string);
  try {
    await opts.iam.authorizeOperation('lambda', req, 'Invoke', { FunctionName: name });
  } catch (err) {
    if (!(err instanceof AccessDeniedError)) throw err;
    const wire = wireError('lambda', err);
    return reply(wire.status, wire.headers, wire.body);
  }
  const fn = opts.functionOf(name);
  if (!fn) return serviceError(404, 'ResourceNotFoundException', `Function not found: ${name}`);
  let event: unknown;
  try {
    event = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    return serviceError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
  }
  const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  if (type === 'Event') {
    void fn.invoke(event).catch((err: unknown) =>
      opts.log?.({
        level: 'warn',
        message: 'asynchronous invocation failed',
        fn: fn.logicalId,
        error: String(err),
      }),
    );
    return reply(202, { 'content-type': 'application/json' }, '');
  }
  if (type !== 'RequestResponse')
    return serviceError(
      400,
      'InvalidParameterValueException',
      `Local Lambda does not serve ${type} invocations`,
    );
  try {
    const result = await fn.invoke(event);
    return reply(
      200,
      { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' },
      JSON.stringify(result ?? null),
    );
  } catch (err) {
    const e = err as Error;
    const errorType = err instanceof LambdaInvocationError ? err.errorType : e.name || 'Error';
    const trace = err instanceof LambdaInvocationError ? err.trace : [];
    const payload = JSON.stringify({ errorType, errorMessage: e.message, trace });
    return reply(
      200,
      {
        'content-type': 'application/json',
        'x-amz-function-error': 'Unhandled',
        'x-amz-executed-version': '$LATEST',
      },
      payload.length > MAX_RESPONSE_BYTES
        ? JSON.stringify({ errorType, errorMessage: e.message.slice(0, 4096) })
        : payload,
    );
  }
}

export async function startLambdaApi(opts: LocalLambdaApiOptions): Promise<LocalLambdaApi> {
  const server: Server = createServer((req, res) => {
    serve(opts, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    handle: (req) => answer(opts, req),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
