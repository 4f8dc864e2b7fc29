/**
 * Who sent a request: the access key id of its SigV4 signature (Authorization header, or the
 * X-Amz-Credential of a presigned URL), VERIFIED by signing the same request again with that
 * key's secret (@smithy/signature-v4, the SDK's own signer) and comparing signatures. A function
 * that puts another function's access key id into its requests without that function's secret
 * is refused.
 */
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, HttpRequest, SourceData } from '@smithy/types';
import { PRESIGNED_QUERY_PARAMS } from '../../../lambdas/adapters/presigned-query.js';

/** SHA-256 (and HMAC-SHA-256 with a secret) for the signer, from node:crypto. */
export class Sha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** A request as the emulator front (or the Lambda endpoint) received it. */
export interface SignedRequest {
  method: string;
  /** Path and query, as on the wire (`/bucket/key%20x?list-type=2`). */
  url: string;
  /** Lower-case names (node's IncomingMessage.headers, arrays joined with ","). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | string;
}

export type AuthenticationFailure =
  | { kind: 'missing'; message: string }
  | { kind: 'unknownKey'; accessKeyId: string; message: string }
  | { kind: 'signature'; accessKeyId: string; message: string }
  | { kind: 'expired'; accessKeyId: string; message: string };

export type Authentication =
  | { ok: true; accessKeyId: string; presigned: boolean }
  | { ok: false; failure: AuthenticationFailure };

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  presigned: boolean;
  expires?: number;
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parse(req: SignedRequest, query: URLSearchParams): Parsed | undefined {
  const auth = header(req.headers, 'authorization');
  if (auth) {
    const m =
      /^AWS4-HMAC-SHA256\s+Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)\s*$/.exec(
        auth,
      );
    if (!m) return undefined;
    const [, accessKeyId = '', , region = '', service = '', signed = '', signature = ''] = m;
    return {
      accessKeyId,
      date: header(req.headers, 'x-amz-date') ?? '',
      region,
      service,
      signedHeaders: signed.split(';'),
      signature,
      presigned: false,
    };
  }
  const credential = query.get('X-Amz-Credential');
  if (query.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256' && credential) {
    const [accessKeyId = '', , region = '', service = ''] = credential.split('/');
    return {
      accessKeyId,
      date: query.get('X-Amz-Date') ?? '',
      region,
      service,
      signedHeaders: (query.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
      signature: query.get('X-Amz-Signature') ?? '',
      presigned: true,
      expires: Number(query.get('X-Amz-Expires') ?? '0'),
    };
  }
  return undefined;
}

/** 20261202T031500Z -> Date */
function amzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, se));
}

/** Just the access key id a request claims (not verified). */
export function claimedAccessKeyId(req: SignedRequest): string | undefined {
  return parse(req, new URL(req.url, 'http://local').searchParams)?.accessKeyId;
}

/**
 * Verifies the request's SigV4 signature. `secretOf` gives the secret of a known access key id.
 * `expectedService`: the signing name the credential scope must carry (dynamodb, s3, sqs, states, lambda).
 */
export async function authenticate(
  req: SignedRequest,
  secretOf: (accessKeyId: string) => string | undefined,
  expectedService: string,
  now: Date = new Date(),
): Promise<Authentication> {
  const url = new URL(req.url, 'http://local');
  const parsed = parse(req, url.searchParams);
  if (!parsed) {
    return {
      ok: false,
      failure: {
        kind: 'missing',
        message: 'Request is missing a SigV4 Authorization header or presigned query',
      },
    };
  }
  const { accessKeyId } = parsed;
  const secret = secretOf(accessKeyId);
  if (secret === undefined) {
    return {
      ok: false,
      failure: {
        kind: 'unknownKey',
        accessKeyId,
        message: `The access key id ${accessKeyId} is not one of local mode's identities`,
      },
    };
  }
  const signingDate = amzDate(parsed.date);
  const mismatch = (why: string): Authentication => ({
    ok: false,
    failure: { kind: 'signature', accessKeyId, message: `The request signature does not match (${why})` },
  });
  if (!signingDate) return mismatch('no valid X-Amz-Date');
  if (parsed.service !== expectedService)
    return mismatch(`credential scoped to ${parsed.service}, expected ${expectedService}`);
  if (parsed.presigned && signingDate.getTime() + (parsed.expires ?? 0) * 1000 < now.getTime()) {
    return { ok: false, failure: { kind: 'expired', accessKeyId, message: 'Request has expired' } };
  }

  const s3 = expectedService === 's3';
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: secret },
    region: parsed.region,
    service: parsed.service,
    sha256: Sha256,
    // S3 signs the path as sent (already escaped); the other services' paths are escaped by the signer.
    uriEscapePath: !s3,
    applyChecksum: false,
  });
  const signed = new Set(parsed.signedHeaders);
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = header(req.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (parsed.presigned && PRESIGNED_QUERY_PARAMS.has(k)) continue;
    const prior = query[k];
    query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
  }
  // The path as on the wire: the SDK signs what it sends (a Lambda function ARN in the path is
  // sent %-escaped, and the signer escapes it once more for the non-S3 services).
  const path = url.pathname;
  const [hostname, port] = (headers.host ?? '').split(':');
  let expected: string | undefined;
  if (parsed.presigned) {
    // The presigner hoists x-amz-* headers into the query: put them back as headers, so the
    // signer hoists them again (and reads X-Amz-Content-Sha256 as the payload hash).
    for (const k of Object.keys(query)) {
      if (/^x-amz-/i.test(k) && typeof query[k] === 'string') {
        headers[k] = query[k] as string;
        delete query[k];
      }
    }
    const request: HttpRequest = {
      method: req.method,
      protocol: 'http:',
      hostname: hostname ?? '',
      ...(port ? { port: Number(port) } : {}),
      path,
      query,
      headers,
    };
    const out = await signer.presign(request, {
      signingDate,
      expiresIn: parsed.expires ?? 900,
      signableHeaders: signed,
      signingRegion: parsed.region,
      signingService: parsed.service,
    });
    expected = String(out.query?.['X-Amz-Signature'] ?? '');
  } else {
    const request: HttpRequest = {
      method: req.method,
      protocol: 'http:',
      hostname: hostname ?? '',
      ...(port ? { port: Number(port) } : {}),
      path,
      query,
      headers,
      body: typeof req.body === 'string' ? req.body : new Uint8Array(req.body),
    };
    const out = await signer.sign(request, {
      signingDate,
      signableHeaders: signed,
      signingRegion: parsed.region,
      signingService: parsed.service,
    });
    expected = /Signature=([0-9a-f]+)/.exec(String(out.headers.authorization ?? ''))?.[1];
  }
  if (!expected || expected.length !== parsed.signature.length) return mismatch('signature differs');
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(parsed.signature)))
    return mismatch('signature differs');
  return { ok: true, accessKeyId, presigned: parsed.presigned };
}
