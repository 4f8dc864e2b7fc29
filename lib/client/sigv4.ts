/**
 * SigV4 request signing for the Baton HTTP API in AWS (IAM authorizer, service `execute-api`),
 * as an openapi-fetch middleware. Signs with @smithy/signature-v4 (the AWS SDK's signer) and a
 * pure-JS SHA-256 (@aws-crypto/sha256-js), so it also runs in a browser given credentials.
 * Without credentials it uses the standard AWS chain (@aws-sdk/credential-provider-node: env,
 * shared config/SSO, web identity, container/instance metadata), loaded only when needed.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from '@smithy/types';
import type { Middleware } from 'openapi-fetch';

export interface SigV4Options {
  /** The API's region (e.g. AWS_REGION). */
  region: string;
  /** Static credentials or a provider; default: the standard AWS credential chain. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Signing name; default `execute-api`. */
  service?: string;
}

async function defaultChain(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

/** A signer of fetch Requests: returns a new Request carrying the SigV4 headers. */
export function createRequestSigner(opts: SigV4Options): (request: Request) => Promise<Request> {
  let signer: SignatureV4 | undefined;
  const signerOnce = async () => {
    signer ??= new SignatureV4({
      credentials: opts.credentials ?? (await defaultChain()),
      region: opts.region,
      service: opts.service ?? 'execute-api',
      sha256: Sha256,
      // execute-api, like every service but S3, signs the path escaped once more.
      uriEscapePath: true,
      applyChecksum: false,
    });
    return signer;
  };
  return async (request) => {
    const url = new URL(request.url);
    const body = ['GET', 'HEAD'].includes(request.method)
      ? undefined
      : new Uint8Array(await request.clone().arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    // fetch sends Host from the URL itself; it must be signed with exactly that value.
    headers.host = url.host;
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const prior = query[k];
      query[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
    }
    const toSign: HttpRequest = {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers,
      ...(body && body.byteLength > 0 ? { body } : {}),
    };
    const signed = await (await signerOnce()).sign(toSign);
    const out = new Headers();
    for (const [name, value] of Object.entries(signed.headers)) {
      if (name.toLowerCase() !== 'host') out.set(name, value);
    }
    return new Request(request.url, {
      method: request.method,
      headers: out,
      ...(body && body.byteLength > 0 ? { body } : {}),
      redirect: request.redirect,
      signal: request.signal,
    });
  };
}

/** The openapi-fetch middleware that signs every request. */
export function sigv4Middleware(opts: SigV4Options): Middleware {
  const sign = createRequestSigner(opts);
  return { onRequest: ({ request }) => sign(request) };
}
