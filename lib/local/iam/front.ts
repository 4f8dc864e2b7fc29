/**
 * An authorizing front for an emulator (one handler, `authorizingFront`, behind its HTTP server
 * and behind the sandboxes' in-process transport, lib/local/transport.ts, so that both are
 * checked the same way): it reads each request whole, authenticates it
 * (SigV4, verified), checks every IAM call of the operation (lib/local/iam/actions.ts) against the
 * caller's role policies, and answers a refusal in the service's AWS error shape; an allowed
 * request is forwarded unchanged to the emulator behind it (for s3rver, signed again with
 * s3rver's own key pair, the only one it accepts: an unsigned request would lose what S3 grants
 * only to signed ones, such as a presigned GET's response-content-disposition override).
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../emulators.js';
import type { IamService } from './actions.js';
import { AccessDeniedError, wireError } from './errors.js';
import type { LocalIam } from './local-iam.js';
import { Sha256 } from './sigv4.js';

export type FrontedService = 'dynamodb' | 's3' | 'sqs';

const JSON_TARGET_PREFIX: Record<Exclude<FrontedService, 's3'>, string> = {
  dynamodb: 'DynamoDB_20120810.',
  sqs: 'AmazonSQS.',
};

/** Query parameters of a presigned URL, dropped before s3rver sees the request. */
const PRESIGN_QUERY = /^X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token)$/i;

/** A request handed to an emulator in process (no second HTTP hop), and what it answered. */
export interface InProcessRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
}
export interface InProcessResponse {
  status: number;
  headers: Record<string, string | number | string[]>;
  body: Buffer;
}
export type InProcessDispatch = (req: InProcessRequest) => Promise<InProcessResponse>;

/** What a front answers: a body whole, or streamed as the emulator sends it (s3rver's GetObject). */
export interface FrontAnswer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer | Readable;
}

/** A front's handler of one request already read whole; `signal` aborts it (the client went away). */
export type FrontHandler = (req: InProcessRequest, signal?: AbortSignal) => Promise<FrontAnswer>;

/**
 * The front of `service`, forwarding to `backend` (http://host:port), or, when the emulator lives
 * in this process and gives `dispatch`, handing it each allowed request directly: the same bytes
 * in and out, without a second HTTP round trip. Its HTTP server (createAuthorizingFront) and the
 * in-process transport of the Lambda sandboxes (lib/local/transport.ts) both call it.
 */
export function authorizingFront(
  service: FrontedService,
  iam: LocalIam,
  backend: () => string,
  dispatch?: InProcessDispatch,
): FrontHandler {
  return (req, signal) => answer(service, iam, backend(), req, signal, dispatch);
}

/** Creates (does not listen) the HTTP server of a front (see authorizingFront). */
export function createAuthorizingFront(
  service: FrontedService,
  iam: LocalIam,
  backend: () => string,
  dispatch?: InProcessDispatch,
): Server {
  return createFrontServer(authorizingFront(service, iam, backend, dispatch));
}

/** The HTTP server of a front's handler: each request read whole, the answer written (or piped). */
export function createFrontServer(handle: FrontHandler): Server {
  return createServer((req, res) => {
    void serve(handle, req, res);
  });
}

/** A request's headers as a plain record (the ones Node left undefined dropped). */
export function headersOf(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
  return out;
}

async function serve(handle: FrontHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    res.destroy();
    return;
  }
  const body = Buffer.concat(chunks);
  // A client that goes away (a long poll stopped) takes the upstream request with it.
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableEnded) gone.abort();
  });
  const {
    status,
    headers,
    body: out,
  } = await handle(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: headersOf(req.headers), body },
    gone.signal,
  );
  if (res.destroyed) {
    if (!Buffer.isBuffer(out)) out.destroy();
    return;
  }
  res.writeHead(status, headers);
  if (Buffer.isBuffer(out)) {
    res.end(out);
    return;
  }
  out.pipe(res);
  out.on('error', () => res.destroy());
}

async function answer(
  service: FrontedService,
  iam: LocalIam,
  backend: string,
  req: InProcessRequest,
  signal: AbortSignal | undefined,
  dispatch?: InProcessDispatch,
): Promise<FrontAnswer> {
  const { body } = req;
  let sqsQueryProtocol = false;
  try {
    if (service === 's3') {
      await iam.authorizeS3(req);
    } else {
      const { operation, input, query } = operationOf(service, req);
      sqsQueryProtocol = query;
      await iam.authorizeOperation(service, req, operation, input);
    }
  } catch (err) {
    if (!(err instanceof AccessDeniedError))
      return text(500, `local IAM failed: ${err instanceof Error ? err.message : String(err)}`);
    const wire = wireError(service as IamService, err, { method: req.method, sqsQueryProtocol });
    return {
      status: wire.status,
      headers: { ...wire.headers, 'content-length': String(Buffer.byteLength(wire.body)) },
      body: Buffer.from(wire.body),
    };
  }
  if (dispatch && service !== 's3') {
    try {
      const answer = await dispatch({ method: req.method, url: req.url, headers: req.headers, body });
      return {
        status: answer.status,
        headers: { ...answer.headers, 'content-length': String(answer.body.length) },
        body: answer.body,
      };
    } catch (err) {
      return text(500, `local emulator failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return forward(service, backend, req, signal);
}

function text(status: number, message: string): FrontAnswer {
  return { status, headers: { 'content-type': 'text/plain' }, body: Buffer.from(message) };
}

/** The operation and input of a JSON-protocol (or SQS query-protocol) request. */
function operationOf(
  service: Exclude<FrontedService, 's3'>,
  req: InProcessRequest,
): { operation: string; input: Record<string, unknown>; query: boolean } {
  const { body } = req;
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith(JSON_TARGET_PREFIX[service])) {
    let input: Record<string, unknown> = {};
    try {
      const parsed: unknown = body.length ? JSON.parse(body.toString('utf8')) : {};
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        input = parsed as Record<string, unknown>;
    } catch {
      // The emulator answers the malformed body; the call is authorized on what it names (nothing).
    }
    return { operation: target.slice(JSON_TARGET_PREFIX[service].length), input, query: false };
  }
  // SQS's query protocol: Action=... in a form body or the query string; the queue is the URL's path.
  const form = new URLSearchParams(body.toString('utf8'));
  const url = new URL(req.url ?? '/', 'http://local');
  const action = form.get('Action') ?? url.searchParams.get('Action') ?? '';
  const input: Record<string, unknown> = Object.fromEntries([...url.searchParams, ...form]);
  if (input.QueueUrl === undefined && url.pathname !== '/') input.QueueUrl = url.pathname;
  return { operation: action || '(no operation)', input, query: true };
}

/** Signs an already authorized S3 request again with s3rver's key pair (headers, unsigned payload). */
let s3rverSigner: SignatureV4 | undefined;
function signerForS3rver(): SignatureV4 {
  // Made on first use: emulators.ts (which holds the key pair) imports this module.
  s3rverSigner ??= new SignatureV4({
    credentials: LOCAL_CREDENTIALS,
    region: LOCAL_REGION,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  return s3rverSigner;
}

async function resignForS3rver(
  target: URL,
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
): Promise<Record<string, string | string[]>> {
  const url = new URL(path, 'http://local');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prior = query[k];
    query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
  }
  const toSign: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (/^(authorization|x-amz-date|x-amz-security-token|x-amz-content-sha256)$/i.test(k)) continue;
    toSign[k] = Array.isArray(v) ? v.join(',') : v;
  }
  toSign.host = target.host;
  toSign['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const signed = await signerForS3rver().sign({
    method,
    protocol: 'http:',
    hostname: target.hostname,
    port: Number(target.port),
    path: url.pathname,
    query,
    headers: toSign,
  });
  return signed.headers;
}

function forward(
  service: FrontedService,
  backend: string,
  req: InProcessRequest,
  signal: AbortSignal | undefined,
): Promise<FrontAnswer> {
  return new Promise<FrontAnswer>((resolve) => {
    void (async () => {
      const target = new URL(backend);
      let headers: Record<string, string | string[]> = { ...req.headers };
      delete headers.expect;
      let path = req.url;
      const { body } = req;
      if (!headers['transfer-encoding']) headers['content-length'] = String(body.length);
      if (service === 's3') {
        delete headers.authorization;
        const url = new URL(path, 'http://local');
        for (const k of [...url.searchParams.keys()]) if (PRESIGN_QUERY.test(k)) url.searchParams.delete(k);
        path = `${url.pathname}${url.search}`;
        headers = await resignForS3rver(target, req.method, path, headers);
      }
      const upstream = httpRequest(
        { host: target.hostname, port: Number(target.port), method: req.method, path, headers },
        (answer) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: answer }),
      );
      // A client that goes away (a long poll stopped) takes the upstream request with it.
      if (signal?.aborted) upstream.destroy();
      else signal?.addEventListener('abort', () => upstream.destroy(), { once: true });
      upstream.on('error', () => resolve(text(502, 'local emulator unreachable')));
      upstream.end(body);
    })();
  });
}
