/**
 * The in-process transport between the local Lambda sandboxes and the local runtime's endpoints.
 * A sandbox's `http.request` to one of these endpoints (sandbox-transport.mjs) reaches the main
 * thread as a worker message instead of a loopback TCP connection, and is answered by the same
 * handler as the endpoint's HTTP server: the IAM fronts of DynamoDB, S3 and SQS (SigV4 verified,
 * the caller's role policies checked, on the bytes the SDK signed), the Step Functions API and
 * the Lambda Invoke API. The caller is whoever signed the request, as over TCP: the message names
 * no identity, and a request to any other origin is refused. On by default;
 * `BATON_LOCAL_TRANSPORT=tcp` turns it off (every sandbox then uses the TCP endpoints).
 */
import type { FrontAnswer, InProcessRequest, InProcessResponse } from './iam/front.js';

/** The handler of one endpoint: a request read whole (url: path and query), its answer. */
export type LocalEndpointHandler = (
  req: InProcessRequest,
  signal: AbortSignal,
) => Promise<InProcessResponse | FrontAnswer>;

export type LocalTransportMode = 'in-process' | 'tcp';

/** The transport `BATON_LOCAL_TRANSPORT` asks for (`tcp`, or the default `in-process`). */
export function localTransportMode(env: NodeJS.ProcessEnv = process.env): LocalTransportMode {
  const value = env.BATON_LOCAL_TRANSPORT;
  if (value === undefined || value === '' || value === 'in-process') return 'in-process';
  if (value === 'tcp') return 'tcp';
  throw new Error(`BATON_LOCAL_TRANSPORT must be "in-process" or "tcp", not ${JSON.stringify(value)}`);
}

/** A request a sandbox sent: the endpoint's origin (http://host:port) and the rest as on the wire. */
export interface SandboxRequest {
  method: string;
  origin: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Uint8Array;
}

/** The largest answer carried back whole (S3 GetObject of an artifact is at most 10 MiB). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export class LocalTransport {
  /** Requests carried so far, by endpoint name (dynamodb, s3, sqs, sfn, lambda). */
  readonly requests = new Map<string, number>();
  private readonly endpoints = new Map<string, { name: string; handle: LocalEndpointHandler }>();
  private open = 0;
  private closed = false;

  /** Serves `url`'s origin with `handle` (what its HTTP server at that URL would answer). */
  add(name: string, url: string, handle: LocalEndpointHandler): void {
    this.endpoints.set(new URL(url).origin, { name, handle });
  }

  /** The origins a sandbox sends in process. */
  origins(): string[] {
    return [...this.endpoints.keys()];
  }

  /** Requests being answered now (a long poll stays here until it returns or is aborted). */
  get inFlight(): number {
    return this.open;
  }

  /** From now on every request is refused, as by an endpoint that stopped listening. */
  close(): void {
    this.closed = true;
  }

  /** Answers one sandbox request; `signal` aborts it (the SDK gave up, or the sandbox ended). */
  async handle(req: SandboxRequest, signal: AbortSignal): Promise<InProcessResponse> {
    // What a sandbox posts is its own to make up: only a well-formed request to an endpoint goes on.
    if (this.closed) throw new Error('the local runtime is stopping');
    if (!isSandboxRequest(req)) throw new Error('not a request');
    const endpoint = this.endpoints.get(req.origin);
    if (!endpoint) throw new Error(`${req.origin} is not a local endpoint`);
    this.requests.set(endpoint.name, (this.requests.get(endpoint.name) ?? 0) + 1);
    this.open += 1;
    try {
      const body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
      const answer = await endpoint.handle(
        { method: req.method, url: req.path, headers: req.headers, body },
        signal,
      );
      return {
        status: answer.status,
        headers: answer.headers as InProcessResponse['headers'],
        body: Buffer.isBuffer(answer.body) ? answer.body : await collect(answer.body, signal),
      };
    } finally {
      this.open -= 1;
    }
  }
}

function isSandboxRequest(req: SandboxRequest): boolean {
  return (
    typeof req === 'object' &&
    req !== null &&
    typeof req.method === 'string' &&
    typeof req.origin === 'string' &&
    typeof req.path === 'string' &&
    req.path.startsWith('/') &&
    req.body instanceof Uint8Array &&
    typeof req.headers === 'object' &&
    req.headers !== null &&
    Object.values(req.headers).every(
      (v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')),
    )
  );
}

/** A streamed answer (s3rver's) read whole; aborted with the request. */
async function collect(
  stream: NodeJS.ReadableStream & { destroy(): void },
  signal: AbortSignal,
): Promise<Buffer> {
  const onAbort = () => stream.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buffer.length;
      if (size > MAX_ANSWER_BYTES) throw new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`);
      chunks.push(buffer);
    }
    if (signal.aborted) throw new Error('aborted');
    return Buffer.concat(chunks);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Answer headers as the sandbox's IncomingMessage has them: lower-case names, string values. */
export function wireHeaders(headers: InProcessResponse['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    const value = Array.isArray(v) ? v.map(String) : String(v);
    // Node's client joins a repeated header (but set-cookie) with ', '.
    out[name] =
      name === 'set-cookie'
        ? ([] as string[]).concat(value)
        : Array.isArray(value)
          ? value.join(', ')
          : value;
  }
  out.date ??= new Date().toUTCString();
  return out;
}
