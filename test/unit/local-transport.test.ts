/**
 * The in-process transport of the local Lambda sandboxes (lib/local/transport.ts,
 * lib/local/sandbox-transport.mjs): a sandbox's AWS SDK calls to the local endpoints reach the
 * runtime's main thread as worker messages instead of loopback TCP, and are authenticated and
 * authorized exactly as over TCP. A probe module (plain ESM, the SDK's own clients) runs in a
 * sandbox of the runtime's with the environment of one of the template's functions, so it calls
 * as that function's role.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/emulators.js';
import { LocalFunction } from '../../lib/local/functions.js';
import { type LocalTransport, localTransportMode } from '../../lib/local/transport.js';
import { type Harness, startHarness } from '../integration/harness.js';

const require = createRequire(import.meta.url);
const sdk = (name: string) => JSON.stringify(pathToFileURL(require.resolve(name)).href);

/** What the probe can do: one AWS call (or a raw message) per invocation, its outcome as data. */
const PROBE = `
import http from 'node:http';
import { parentPort } from 'node:worker_threads';
import dynamodb from ${sdk('@aws-sdk/client-dynamodb')};
import s3 from ${sdk('@aws-sdk/client-s3')};
import sqs from ${sdk('@aws-sdk/client-sqs')};

const ddb = new dynamodb.DynamoDBClient({});
const bucket = new s3.S3Client({});
const queue = new sqs.SQSClient({});

async function run(event) {
  switch (event.op) {
    case 'getItem':
      return ddb.send(new dynamodb.GetItemCommand({
        TableName: process.env.TABLE_NAME, Key: { pk: { S: 'TASK#none' }, sk: { S: 'META' } },
      }));
    case 'deleteTable':
      return ddb.send(new dynamodb.DeleteTableCommand({ TableName: process.env.TABLE_NAME }));
    case 'put':
      return bucket.send(new s3.PutObjectCommand({
        Bucket: process.env.ARTIFACT_BUCKET, Key: event.key, Body: Buffer.from(event.base64, 'base64'),
      }));
    case 'get': {
      const out = await bucket.send(new s3.GetObjectCommand({ Bucket: process.env.ARTIFACT_BUCKET, Key: event.key }));
      const bytes = Buffer.from(await out.Body.transformToByteArray());
      return { base64: bytes.toString('base64'), ETag: out.ETag, ContentLength: out.ContentLength };
    }
    case 'receive':
      return queue.send(new sqs.ReceiveMessageCommand({ QueueUrl: event.queueUrl, WaitTimeSeconds: event.wait }));
    case 'plainHttp':
      return new Promise((resolve, reject) => {
        http.get(event.url, (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode })); })
          .on('error', reject);
      });
    case 'forged':
      // A message of the transport's shape, posted by hand (as hostile code in a sandbox could).
      return new Promise((resolve) => {
        const id = 1e9;
        const onMessage = (msg) => {
          if (msg?.id !== id) return;
          parentPort.off('message', onMessage);
          resolve({ type: msg.type, status: msg.status });
        };
        parentPort.on('message', onMessage);
        parentPort.postMessage({ type: 'http-request', id, method: 'GET', origin: event.origin, path: '/',
          headers: {}, body: new Uint8Array() });
      });
  }
  throw new Error('unknown op ' + event.op);
}

export async function handler(event) {
  try {
    const out = await run(event);
    return { ok: true, out: JSON.parse(JSON.stringify(out, (k, v) => (k === '$metadata' ? { httpStatusCode: v.httpStatusCode } : v))) };
  } catch (err) {
    return { ok: false, name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
}
`;

let h: Harness;
let dir: string;
let file: string;
const probes: LocalFunction[] = [];

beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'baton-transport-'));
  file = path.join(dir, 'probe.mjs');
  await writeFile(file, PROBE);
});
afterAll(async () => {
  await Promise.all(probes.map((p) => p.close()));
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The runtime's transport (on by default). */
function transport(): LocalTransport {
  const t = h.rt.transport;
  if (!t) throw new Error('the in-process transport is off');
  return t;
}

/**
 * A sandbox pool running the probe with the environment (and so the identity) of the template's
 * function `prefix`, over the in-process transport, or over TCP with `tcp`.
 */
function probeAs(
  prefix: string,
  opts: { tcp?: boolean; timeoutSeconds?: number; env?: Record<string, string> } = {},
): LocalFunction {
  const fn = [...h.rt.functions.values()].find((f) => f.logicalId.startsWith(prefix));
  if (!fn) throw new Error(`no function ${prefix}`);
  const env = { ...fn.environment(), ...opts.env };
  const probe = new LocalFunction({
    logicalId: `Probe${prefix}`,
    arn: fn.arn,
    file,
    exportName: 'handler',
    timeoutSeconds: opts.timeoutSeconds ?? 20,
    memoryMb: 128,
    env: () => env,
    approvalLine: () => undefined,
    ...(opts.tcp ? {} : { transport: transport() }),
  });
  probes.push(probe);
  return probe;
}

type Outcome = {
  ok: boolean;
  out?: Record<string, unknown>;
  name?: string;
  message?: string;
  status?: number;
};
const invoke = async (fn: LocalFunction, event: Record<string, unknown>) =>
  (await fn.invoke(event)) as Outcome;

const count = (service: string) => transport().requests.get(service) ?? 0;
const tcpConnections = (service: 'dynamodb' | 's3' | 'sqs') =>
  h.rt.emulators.fronts?.[service].connections() ?? 0;

const admin = new SQSClient({
  region: LOCAL_REGION,
  endpoint: process.env.AWS_ENDPOINT_URL_SQS,
  credentials: LOCAL_CREDENTIALS,
});

describe('the in-process transport of the local sandboxes', () => {
  it("carries a function's DynamoDB calls in process and authorizes them as its role", async () => {
    // Prepare
    const gate = probeAs('Gate');
    const overTcp = probeAs('Gate', { tcp: true });
    await invoke(gate, { op: 'getItem' }); // cold start outside the counts
    const calls0 = count('dynamodb');
    const carried0 = gate.carried;
    const tcp0 = tcpConnections('dynamodb');

    // Act
    const allowed = await invoke(gate, { op: 'getItem' });
    const refused = await invoke(gate, { op: 'deleteTable' });
    const tcp1 = tcpConnections('dynamodb');
    const refusedOverTcp = await invoke(overTcp, { op: 'deleteTable' });

    // Assess
    expect(allowed).toMatchObject({ ok: true, out: { $metadata: { httpStatusCode: 200 } } });
    expect(refused).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 400 });
    expect(refused.message).toMatch(
      /assumed-role\/[^/]*Gate[^/]*\/Gate[0-9A-F]{8} is not authorized to perform: dynamodb:DeleteTable/,
    );
    // The same refusal, word for word, as the TCP front gives.
    expect(refused).toEqual(refusedOverTcp);
    // Its two calls, in process (the transport's own count also has whatever else ran meanwhile,
    // e.g. the scheduled intake sweep).
    expect(gate.carried - carried0).toBe(2);
    expect(count('dynamodb') - calls0).toBeGreaterThanOrEqual(2);
    // The front's TCP server saw no connection for them; the probe over TCP opened one.
    expect(tcp1).toBe(tcp0);
    expect(tcpConnections('dynamodb')).toBeGreaterThan(tcp1);
  });

  it('refuses an agent, which holds no Baton permission, exactly as over TCP', async () => {
    // Prepare
    const agent = probeAs('Agentecho', { env: { TABLE_NAME: String(process.env.TABLE_NAME) } });
    const agentOverTcp = probeAs('Agentecho', {
      tcp: true,
      env: { TABLE_NAME: String(process.env.TABLE_NAME) },
    });

    // Act
    const inProcess = await invoke(agent, { op: 'getItem' });
    const overTcp = await invoke(agentOverTcp, { op: 'getItem' });

    // Assess
    expect(inProcess).toMatchObject({ ok: false, name: 'AccessDeniedException', status: 400 });
    expect(inProcess).toEqual(overTcp);
  });

  it('round-trips an S3 object byte for byte, with its ETag and length (a large PUT with Expect: 100-continue)', async () => {
    // Prepare
    const runner = probeAs('StepRunner');
    // Over 2 MiB: the S3 client sends it with `Expect: 100-continue`, and waits for the 100.
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(2.5 * 1024 * 1024),
    ]);
    const key = `tasks/t_transport/steps/s/1/blob-${Date.now()}`;
    const s3Calls0 = count('s3');
    const tcp0 = tcpConnections('s3');

    // Act
    const put = await invoke(runner, { op: 'put', key, base64: bytes.toString('base64') });
    const got = await invoke(runner, { op: 'get', key });
    const missing = await invoke(runner, { op: 'get', key: `${key}-missing` });
    const tcp1 = tcpConnections('s3');
    const missingOverTcp = await invoke(probeAs('StepRunner', { tcp: true }), {
      op: 'get',
      key: `${key}-missing`,
    });

    // Assess
    expect(put).toMatchObject({ ok: true });
    const md5 = createHash('md5').update(bytes).digest('hex');
    expect(got.out).toMatchObject({ ETag: `"${md5}"`, ContentLength: bytes.length });
    expect(Buffer.from(String(got.out?.base64), 'base64').equals(bytes)).toBe(true);
    expect(missing).toMatchObject({ ok: false, name: 'NoSuchKey', status: 404 });
    expect(missing).toEqual(missingOverTcp);
    expect(count('s3') - s3Calls0).toBe(3);
    expect(tcp1).toBe(tcp0);
  });

  it('answers a long poll as soon as a message arrives', async () => {
    // Prepare: a queue of the test's own (the runtime's pollers read the template's queues).
    const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: `transport-${Date.now()}` }));
    const probe = probeAs('IntakeWorker', { env: { ...adminKeys() } });
    await invoke(probe, { op: 'receive', queueUrl: QueueUrl, wait: 0 });
    const t0 = Date.now();

    // Act
    const polled = invoke(probe, { op: 'receive', queueUrl: QueueUrl, wait: 10 });
    await new Promise((r) => setTimeout(r, 500));
    await admin.send(new SendMessageCommand({ QueueUrl, MessageBody: 'arrived' }));
    const result = await polled;

    // Assess
    expect(result).toMatchObject({ ok: true, out: { Messages: [{ Body: 'arrived' }] } });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('releases a long poll when its sandbox is terminated (timeout), leaving later messages to others', async () => {
    // Prepare
    const { QueueUrl } = await admin.send(
      new CreateQueueCommand({ QueueName: `transport-gone-${Date.now()}` }),
    );
    const probe = probeAs('IntakeWorker', { timeoutSeconds: 1, env: { ...adminKeys() } });
    const next = probeAs('IntakeWorker', { env: { ...adminKeys() } });
    const open0 = transport().inFlight;

    // Act: the poll would wait 20 s; the sandbox's timeout ends it after 1 s.
    const timedOut = await probe.invoke({ op: 'receive', queueUrl: QueueUrl, wait: 20 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    await until(() => transport().inFlight === open0);
    // The emulator notices a client gone when the front's connection to it closes: a moment.
    await new Promise((r) => setTimeout(r, 300));
    await admin.send(new SendMessageCommand({ QueueUrl, MessageBody: 'for someone else' }));
    await new Promise((r) => setTimeout(r, 200));
    const attributes = await admin.send(
      new GetQueueAttributesCommand({
        QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const received = await invoke(next, { op: 'receive', queueUrl: QueueUrl, wait: 1 });

    // Assess
    expect(timedOut).toMatchObject({ name: 'Sandbox.Timedout' });
    expect(transport().inFlight).toBe(open0);
    expect(attributes.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
    expect(received).toMatchObject({ ok: true, out: { Messages: [{ Body: 'for someone else' }] } });
  });

  it('leaves every other request alone, and answers a hand-made message to any other origin with an error', async () => {
    // Prepare
    let connections = 0;
    const server = createServer((_req, res) => res.end('plain'));
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const probe = probeAs('Gate');
    const before = [...transport().requests.values()].reduce((a, b) => a + b, 0);

    // Act
    const plain = await invoke(probe, { op: 'plainHttp', url });
    const forged = await invoke(probe, { op: 'forged', origin: new URL(url).origin });
    server.close();

    // Assess
    expect(plain).toMatchObject({ ok: true, out: { status: 200 } });
    expect(connections).toBe(1);
    expect(forged).toMatchObject({ ok: true, out: { type: 'http-error' } });
    expect([...transport().requests.values()].reduce((a, b) => a + b, 0)).toBe(before);
  });

  it("carries the shipped bundles' calls to DynamoDB, S3, Step Functions and Lambda in process", async () => {
    // Prepare
    const services = ['dynamodb', 's3', 'sfn', 'lambda'];
    const calls0 = Object.fromEntries(services.map((s) => [s, count(s)]));
    const tcp0 = { dynamodb: tcpConnections('dynamodb'), s3: tcpConnections('s3') };

    // Act
    const taskId = await h.submit({ goal: 'transport', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    const view = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED', 'DEGRADED']);
    const artifacts = await h.api<{ artifacts: { id: string }[] }>('GET', `/tasks/${taskId}/artifacts`);

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(artifacts.status).toBe(200);
    for (const s of services) expect(count(s), s).toBeGreaterThan(calls0[s] ?? 0);
    expect(tcpConnections('dynamodb')).toBe(tcp0.dynamodb);
    expect(tcpConnections('s3')).toBe(tcp0.s3);
  });
});

describe('BATON_LOCAL_TRANSPORT', () => {
  it('is in-process unless it says tcp, and refuses anything else by name', () => {
    // Act
    const modes = [undefined, '', 'in-process', 'tcp'].map((v) =>
      localTransportMode(v === undefined ? {} : { BATON_LOCAL_TRANSPORT: v }),
    );

    // Assess
    expect(modes).toEqual(['in-process', 'in-process', 'in-process', 'tcp']);
    expect(() => localTransportMode({ BATON_LOCAL_TRANSPORT: 'udp' })).toThrow(/BATON_LOCAL_TRANSPORT/);
  });
});

/** The runtime's admin key pair (authenticated, never checked): a queue of the test's own. */
function adminKeys(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
