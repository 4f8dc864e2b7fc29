/**
 * The typed client's SigV4 auth: requests signed by createBatonClient, as they arrive on the
 * wire, verify under local IAM's verifier (lib/local/iam/sigv4.ts: signs the received request
 * again with @smithy/signature-v4 and node:crypto), and a changed request does not.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatonClient, createRequestSigner } from '../../lib/client/index.js';
import { authenticate, type SignedRequest } from '../../lib/local/iam/sigv4.js';

const KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const secretOf = (id: string) => (id === KEY.accessKeyId ? KEY.secretAccessKey : undefined);

/** A server that records each request as received and answers like the API would. */
let server: Server;
let base: string;
const received: SignedRequest[] = [];

function record(req: IncomingMessage, body: Buffer): SignedRequest {
  const headers: SignedRequest['headers'] = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
  return { method: req.method ?? 'GET', url: req.url ?? '/', headers, body };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(record(req, Buffer.concat(chunks)));
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ taskId: 't_1', status: 'QUEUED', links: { self: '', events: '', artifacts: '' } }),
      );
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

describe('SigV4 auth of the typed client', () => {
  it('signs a POST with a body, a header and a query so that the signature verifies', async () => {
    // Prepare
    const client = createBatonClient({
      baseUrl: base,
      auth: { type: 'sigv4', region: 'eu-west-1', credentials: { ...KEY, sessionToken: 'session-token' } },
    });
    received.length = 0;
    // Act
    const res = await client.POST('/tasks', {
      body: { goal: 'signed ünïcode', plan: { steps: [{ id: 'a', agent: 'echo' }] } },
      params: { header: { 'Idempotency-Key': 'k 1' } },
    });
    const res2 = await client.GET('/tasks', { params: { query: { status: 'RUNNING', limit: 5 } } });
    // Assess
    expect(res.response.status).toBe(202);
    expect(res2.response.status).toBe(202);
    const [post, get] = received as [SignedRequest, SignedRequest];
    expect(String(post.headers.authorization)).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=.*idempotency-key.*, Signature=[0-9a-f]{64}$/,
    );
    expect(post.headers['x-amz-security-token']).toBe('session-token');
    expect(await authenticate(post, secretOf, 'execute-api')).toMatchObject({ ok: true });
    expect(get.url).toBe('/tasks?status=RUNNING&limit=5');
    expect(await authenticate(get, secretOf, 'execute-api')).toMatchObject({ ok: true });
  });

  it('signs the path escaped as execute-api expects (an id with characters that need escaping)', async () => {
    // Prepare
    const sign = createRequestSigner({ region: 'us-east-1', credentials: KEY });
    received.length = 0;
    // Act
    const signed = await sign(new Request(`${base}/tasks/a%20b%2Fc/cancel`, { method: 'POST' }));
    await fetch(signed);
    // Assess
    const [req] = received as [SignedRequest];
    expect(req.url).toBe('/tasks/a%20b%2Fc/cancel');
    expect(await authenticate(req, secretOf, 'execute-api')).toMatchObject({ ok: true });
  });

  it('does not verify once the body or the signing key differs', async () => {
    // Prepare
    const sign = createRequestSigner({ region: 'us-east-1', credentials: KEY });
    const signed = await sign(
      new Request(`${base}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"goal":"original"}',
      }),
    );
    received.length = 0;
    // Act: the same signed headers with another body
    await fetch(`${base}/tasks`, { method: 'POST', headers: signed.headers, body: '{"goal":"tampered"}' });
    // Assess
    const [tampered] = received as [SignedRequest];
    expect(await authenticate(tampered, secretOf, 'execute-api')).toMatchObject({
      ok: false,
      failure: { kind: 'signature' },
    });
    expect(await authenticate(tampered, () => 'another secret', 'execute-api')).toMatchObject({ ok: false });
    expect(await authenticate(tampered, secretOf, 's3')).toMatchObject({ ok: false });
  });

  it('sends the bearer key in local mode', async () => {
    // Prepare
    const client = createBatonClient({ baseUrl: `${base}/`, auth: { type: 'bearer', token: 'local-key' } });
    received.length = 0;
    // Act
    await client.GET('/tasks/{id}', { params: { path: { id: 't_1' } } });
    // Assess
    const [req] = received as [SignedRequest];
    expect(req.url).toBe('/tasks/t_1');
    expect(req.headers.authorization).toBe('Bearer local-key');
  });
});
