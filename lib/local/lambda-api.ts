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
import { AccessDeniedError, type LocalIam, wireError } from './iam/index.js';

/** Lambda's synchronous request payload limit. */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export interface LocalLambdaApi {
  url: string;
  close(): Promise<void>;
}

export interface LocalLambdaApiOptions {
  iam: LocalIam;
  /** The function a name or ARN names. */
  functionOf(nameOrArn: string): LocalFunction | undefined;
  log?: (line: Record<string, unknown>) => void;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function serviceError(res: ServerResponse, status: number, code: string, message: string): void {
  send(
    res,
    status,
    { 'content-type': 'application/json', 'x-amzn-errortype': code },
    JSON.stringify({ Type: 'User', message }),
  );
}

async function serve(opts: LocalLambdaApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) {
      serviceError(
        res,
        413,
        'RequestTooLargeException',
        `Request must be smaller than ${MAX_REQUEST_BYTES} bytes for the InvokeFunction operation`,
      );
      req.destroy();
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', 'http://local');
  const match = req.method === 'POST' ? INVOKE_PATH.exec(url.pathname) : null;
  if (!match) {
    serviceError(
      res,
      404,
      'UnknownOperationException',
      `Local Lambda serves Invoke only (${req.method} ${url.pathname})`,
    );
    return;
  }
  const name = decodeURIComponent(match[1] as string);
  try {
    await opts.iam.authorizeOperation(
      'lambda',
      { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
      'Invoke',
      { FunctionName: name },
    );
  } catch (err) {
    if (!(err instanceof AccessDeniedError)) throw err;
    const wire = wireError('lambda', err);
    send(res, wire.status, wire.headers, wire.body);
    return;
  }
  const fn = opts.functionOf(name);
  if (!fn) {
    serviceError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    return;
  }
  let event: unknown;
  try {
    event = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    serviceError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    return;
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
    send(res, 202, { 'content-type': 'application/json' }, '');
    return;
  }
  if (type !== 'RequestResponse') {
    serviceError(
      res,
      400,
      'InvalidParameterValueException',
      `Local Lambda does not serve ${type} invocations`,
    );
    return;
  }
  try {
    const result = await fn.invoke(event);
    send(
      res,
      200,
      { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' },
      JSON.stringify(result ?? null),
    );
  } catch (err) {
    const e = err as Error;
    const errorType = err instanceof LambdaInvocationError ? err.errorType : e.name || 'Error';
    const trace = err instanceof LambdaInvocationError ? err.trace : [];
    const payload = JSON.stringify({ errorType, errorMessage: e.message, trace });
    send(
      res,
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
    serve(opts, req, res).catch((err: unknown) => {
      if (!res.headersSent) serviceError(res, 500, 'ServiceException', `local Lambda failed: ${String(err)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
