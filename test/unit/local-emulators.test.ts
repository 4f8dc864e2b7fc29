import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorError, type Emulators, sdkEnvironment, startEmulators } from '../../lib/local/emulators.js';
import { type SqsLogLine, type SqsPoller, startSqsPoller } from '../../lib/local/sqs-poller.js';

const projectRoot = resolve(import.meta.dirname, '../..');
/** dynalite's own LevelDB binding, to stage on-disk states a crash would leave behind. */
const { Level } = createRequire(createRequire(import.meta.url).resolve('dynalite'))('level') as {
  Level: new (
    location: string,
    options: { valueEncoding: 'json' },
  ) => {
    get(key: string): Promise<DynaliteTableRecord>;
    put(key: string, value: unknown): Promise<void>;
    iterator(range: { gte: string; lt: string }): AsyncIterable<[string, unknown]>;
    close(): Promise<void>;
  };
};
interface DynaliteTableRecord {
  TableStatus: string;
  GlobalSecondaryIndexes: object[];
}
const tempDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-emulators-'));
  tempDirs.push(dir);
  return dir;
}

/** Points the process at the emulators exactly as the local runtime will; returns the undo. */
function useEnvironment(e: Emulators): () => void {
  const env = sdkEnvironment(e);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** SDK clients with no endpoint, region or credential options: the environment must suffice. */
function sdkClients() {
  return { ddb: new DynamoDBClient({}), s3: new S3Client({}), sqs: new SQSClient({}) };
}

function portsOf(e: Emulators) {
  return {
    dynamodb: Number(new URL(e.dynamodb).port),
    s3: Number(new URL(e.s3).port),
    sqs: Number(new URL(e.sqs).port),
  };
}

/** As on AWS, a new table answers ResourceNotFoundException until it is ACTIVE (a few ms here). */
async function createTable(ddb: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  await ddb.send(new CreateTableCommand(input));
  await waitUntilTableExists(
    { client: ddb, maxWaitTime: 10, minDelay: 0.05, maxDelay: 0.2 },
    { TableName: input.TableName },
  );
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return out.Attributes?.QueueArn ?? '';
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

async function createQueueWithDlq(sqs: SQSClient, name: string, maxReceiveCount: number) {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqUrl = dlq.QueueUrl ?? '';
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: '1',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await queueArn(sqs, dlqUrl), maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl ?? '', dlqUrl };
}

/** A promise plus its resolver, for waiting on events instead of on the clock. */
function signal<T = void>() {
  let resolveFn!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolveFn = r;
  });
  return { promise, resolve: resolveFn };
}

afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('local emulators reached through sdkEnvironment() only', () => {
  let emulators: Emulators;
  let restoreEnv: () => void;

  beforeAll(async () => {
    emulators = await startEmulators({ dataDir: await tempDir() });
    restoreEnv = useEnvironment(emulators);
  });

  afterAll(async () => {
    restoreEnv?.();
    await emulators?.close();
  });

  it('gives IP-literal endpoints and the S3rver credentials', () => {
    // Act
    const env = sdkEnvironment(emulators);
    // Assess
    expect(env).toMatchObject({
      AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamodb,
      AWS_ENDPOINT_URL_S3: emulators.s3,
      AWS_ENDPOINT_URL_SQS: emulators.sqs,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    });
    for (const url of [emulators.dynamodb, emulators.s3, emulators.sqs]) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it('DynamoDB: table with GSI and LSI, conditional put, index queries, ADD counter', async () => {
    // Prepare
    const { ddb } = sdkClients();
    const TableName = 'baton-test';
    await createTable(ddb, {
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'status', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'S' },
        { AttributeName: 'priority', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'byPriority',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'priority', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    const put = (sk: string, priority: number, status: string, createdAt: string) =>
      ddb.send(
        new PutItemCommand({
          TableName,
          Item: {
            pk: { S: 'TASK#1' },
            sk: { S: sk },
            priority: { N: String(priority) },
            status: { S: status },
            createdAt: { S: createdAt },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await put('STEP#a', 3, 'RUNNING', '2025-01-01T00:00:02Z');
    await put('STEP#b', 1, 'RUNNING', '2025-01-01T00:00:01Z');
    await put('STEP#c', 2, 'DONE', '2025-01-01T00:00:03Z');

    // Act
    const duplicate = await put('STEP#a', 9, 'DONE', '2025-01-01T00:00:09Z').catch((err: unknown) => err);
    const byPriority = await ddb.send(
      new QueryCommand({
        TableName,
        IndexName: 'byPriority',
        KeyConditionExpression: 'pk = :pk AND priority >= :p',
        ExpressionAttributeValues: { ':pk': { S: 'TASK#1' }, ':p': { N: '2' } },
      }),
    );
    const running = await ddb.send(
      new QueryCommand({
        TableName,
        IndexName: 'byStatus',
        KeyConditionExpression: '#s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'RUNNING' } },
      }),
    );
    const counter = { TableName, Key: { pk: { S: 'TASK#1' }, sk: { S: 'META' } } };
    await ddb.send(
      new UpdateItemCommand({
        ...counter,
        UpdateExpression: 'ADD seq :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
      }),
    );
    const added = await ddb.send(
      new UpdateItemCommand({
        ...counter,
        UpdateExpression: 'ADD seq :one',
        ExpressionAttributeValues: { ':one': { N: '1' } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );

    // Assess
    expect(duplicate).toBeInstanceOf(Error);
    expect((duplicate as Error).name).toBe('ConditionalCheckFailedException');
    expect(byPriority.Items?.map((i) => i.sk?.S)).toEqual(['STEP#c', 'STEP#a']);
    expect(running.Items?.map((i) => i.sk?.S)).toEqual(['STEP#b', 'STEP#a']);
    expect(added.Attributes?.seq?.N).toBe('2');
  });

  it("counts the DynamoDB worker's own CPU time, which its requests add to (npm run bench's figure)", async () => {
    // Prepare
    const { ddb } = sdkClients();
    const before = (await emulators.threadCpuMs()).dynamodb;
    // Act
    for (let i = 0; i < 5; i++) await ddb.send(new ListTablesCommand({}));
    const after = (await emulators.threadCpuMs()).dynamodb;
    // Assess: the thread's own clock, so it ran before (its start) and ran for the requests.
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(before);
  });

  it('S3: binary round trip, head, list, and a stream body stored byte for byte', async () => {
    // Prepare
    const { s3 } = sdkClients();
    const Bucket = 'baton-artifacts';
    await s3.send(new CreateBucketCommand({ Bucket }));
    const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
    const streamed = randomBytes(10_000);

    // Act
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'tasks/t1/steps/s1/1/out.bin',
        Body: bytes,
        ContentType: 'application/octet-stream',
        Metadata: { sha256: 'abc' },
      }),
    );
    // A stream is what SDK >= 3.729 sends aws-chunked with a trailing checksum unless
    // AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED; s3rver would store the framing.
    await s3.send(
      new PutObjectCommand({
        Bucket,
        Key: 'tasks/t1/steps/s1/1/streamed.bin',
        Body: Readable.from([streamed]),
        ContentLength: streamed.length,
      }),
    );
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'tasks/t1/steps/s1/1/out.bin' }));
    const gotBytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    const gotStreamed = await s3.send(
      new GetObjectCommand({ Bucket, Key: 'tasks/t1/steps/s1/1/streamed.bin' }),
    );
    const gotStreamedBytes = Buffer.from((await gotStreamed.Body?.transformToByteArray()) ?? []);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'tasks/t1/steps/s1/1/out.bin' }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'tasks/t1/' }));
    const missing = await s3
      .send(new HeadObjectCommand({ Bucket, Key: 'tasks/t1/nothing' }))
      .catch((err: unknown) => err);

    // Assess
    expect(gotBytes.equals(bytes)).toBe(true);
    expect(gotStreamedBytes.equals(streamed)).toBe(true);
    expect(got.ContentType).toBe('application/octet-stream');
    expect(head.ContentLength).toBe(bytes.length);
    expect(head.Metadata).toEqual({ sha256: 'abc' });
    expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([
      ['tasks/t1/steps/s1/1/out.bin', bytes.length],
      ['tasks/t1/steps/s1/1/streamed.bin', streamed.length],
    ]);
    expect((missing as Error).name).toBe('NotFound');
  });

  it('SQS: queue with a dead-letter RedrivePolicy, send, receive, delete', async () => {
    // Prepare
    const { sqs } = sdkClients();
    const { queueUrl, dlqUrl } = await createQueueWithDlq(sqs, 'plain', 3);

    // Act
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['RedrivePolicy', 'VisibilityTimeout'],
      }),
    );
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: '{"taskId":"t1"}',
        MessageAttributes: { taskId: { DataType: 'String', StringValue: 't1' } },
      }),
    );
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 5,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        // local-aws-sqs reads only this older parameter, whose SDK type allows just queue attribute names.
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const message = received.Messages?.[0];
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));

    // Assess
    expect(JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: await queueArn(sqs, dlqUrl),
      maxReceiveCount: 3,
    });
    expect(attributes.Attributes?.VisibilityTimeout).toBe('1');
    // The account local mode's synthesized template uses, so template ARNs and emulator ARNs agree.
    expect(await queueArn(sqs, queueUrl)).toBe('arn:aws:sqs:us-east-1:000000000000:plain');
    expect(received.Messages).toHaveLength(1);
    expect(message?.MessageId).toBe(sent.MessageId);
    expect(message?.Body).toBe('{"taskId":"t1"}');
    expect(message?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(message?.MessageAttributes?.taskId?.StringValue).toBe('t1');
    expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  describe('SQS poller (event source mapping)', () => {
    let poller: SqsPoller | undefined;
    const logs: SqsLogLine[] = [];
    const log = (line: SqsLogLine) => {
      logs.push(line);
    };

    afterEach(async () => {
      await poller?.stop();
      poller = undefined;
      logs.length = 0;
    });

    it('delivers a real SQSEvent batch and deletes the messages the handler processed', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl } = await createQueueWithDlq(sqs, 'batch', 3);
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: ['a', 'b', 'c'].map((id) => ({
            Id: id,
            MessageBody: `body-${id}`,
            MessageAttributes: {
              kind: { DataType: 'String', StringValue: id },
              blob: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 255, id.charCodeAt(0)]) },
            },
          })),
        }),
      );
      const delivered = signal<SQSEvent>();

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        handler: async (event) => {
          delivered.resolve(event);
        },
      });
      const event = await delivered.promise;
      await poller.stop();

      // Assess
      const arn = await queueArn(sqs, queueUrl);
      expect(event.Records.map((r) => r.body)).toEqual(['body-a', 'body-b', 'body-c']);
      const record = event.Records[0] as SQSRecord;
      expect(record).toMatchObject({
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: 'us-east-1',
        attributes: { ApproximateReceiveCount: '1' },
        messageAttributes: {
          kind: { dataType: 'String', stringValue: 'a' },
          blob: { dataType: 'Binary', binaryValue: Buffer.from([0, 255, 97]).toString('base64') },
        },
      });
      expect(record.messageId).toMatch(/\S/);
      expect(record.receiptHandle).toMatch(/\S/);
      expect(record.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
      expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
      expect(logs).toEqual([]);
    });

    it('redelivers the whole batch after the visibility timeout when the handler throws', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl } = await createQueueWithDlq(sqs, 'throws-once', 3);
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'flaky' }));
      const deliveries: { id: string; count: string }[] = [];
      const succeeded = signal();

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        handler: async (event) => {
          for (const r of event.Records)
            deliveries.push({ id: r.messageId, count: r.attributes.ApproximateReceiveCount });
          if (deliveries.length === 1) throw new Error('transient');
          succeeded.resolve();
        },
      });
      await succeeded.promise;
      await poller.stop();

      // Assess
      expect(deliveries.map((d) => d.count)).toEqual(['1', '2']);
      expect(deliveries[1]?.id).toBe(deliveries[0]?.id);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
      expect(logs).toEqual([expect.objectContaining({ level: 'error', error: 'Error: transient' })]);
    });

    it('retries only the batchItemFailures the handler reports', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl } = await createQueueWithDlq(sqs, 'partial', 3);
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: ['a', 'b', 'c'].map((id) => ({ Id: id, MessageBody: id })),
        }),
      );
      const deliveries: { body: string; count: string }[] = [];
      const retried = signal();

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        maxConcurrency: 1,
        handler: async (event): Promise<SQSBatchResponse> => {
          for (const r of event.Records)
            deliveries.push({ body: r.body, count: r.attributes.ApproximateReceiveCount });
          if (deliveries.length === 3) {
            const b = event.Records.find((r) => r.body === 'b');
            return { batchItemFailures: b ? [{ itemIdentifier: b.messageId }] : [] };
          }
          retried.resolve();
          return { batchItemFailures: [] };
        },
      });
      await retried.promise;
      await poller.stop();

      // Assess
      expect(deliveries).toEqual([
        { body: 'a', count: '1' },
        { body: 'b', count: '1' },
        { body: 'c', count: '1' },
        { body: 'b', count: '2' },
      ]);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    });

    it('treats a batchItemFailures id that is not in the batch as a failed batch', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl } = await createQueueWithDlq(sqs, 'bad-response', 3);
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));
      const counts: string[] = [];
      const retried = signal();

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        handler: async (event): Promise<SQSBatchResponse | undefined> => {
          counts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
          if (counts.length === 1) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
          retried.resolve();
          return undefined;
        },
      });
      await retried.promise;
      await poller.stop();

      // Assess
      expect(counts).toEqual(['1', '2']);
      expect(logs.map((l) => l.level)).toEqual(['error']);
    });

    it('moves a message that always fails to the dead-letter queue after maxReceiveCount', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl, dlqUrl } = await createQueueWithDlq(sqs, 'poison', 2);
      const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
      const counts: string[] = [];

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        handler: async (event) => {
          counts.push(...event.Records.map((r) => r.attributes.ApproximateReceiveCount));
          throw new Error('always fails');
        },
      });
      const dead = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          WaitTimeSeconds: 20,
          MessageSystemAttributeNames: ['All'],
          AttributeNames: ['All'],
        }),
      );
      await poller.stop();

      // Assess
      expect(counts).toEqual(['1', '2']);
      expect(dead.Messages?.map((m) => [m.MessageId, m.Body])).toEqual([[sent.MessageId, 'poison']]);
      expect(dead.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn).toBe(await queueArn(sqs, queueUrl));
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    });

    it('never runs more than maxConcurrency handler invocations at once', async () => {
      // Prepare
      const { sqs } = sdkClients();
      const { queueUrl } = await createQueueWithDlq(sqs, 'bounded', 3);
      const total = 6;
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: total }, (_, i) => ({ Id: `m${i}`, MessageBody: `m${i}` })),
        }),
      );
      let active = 0;
      let peak = 0;
      let handled = 0;
      const allHandled = signal();
      // Each invocation waits for a partner, so two slots are used at the same time whenever the
      // bound allows it; a third concurrent invocation would show up in `peak`.
      let pair = signal();

      // Act
      poller = startSqsPoller({
        queueUrl,
        client: sqs,
        log,
        batchSize: 1,
        maxConcurrency: 2,
        handler: async (event) => {
          active += 1;
          peak = Math.max(peak, active);
          const mine = pair;
          if (active === 2) {
            mine.resolve();
            pair = signal();
          }
          await mine.promise;
          active -= 1;
          handled += event.Records.length;
          if (handled === total) allHandled.resolve();
        },
      });
      await allHandled.promise;
      await poller.stop();

      // Assess
      expect(peak).toBe(2);
      expect(handled).toBe(total);
      expect(await queueDepth(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    });

    it('rejects options outside what an event source mapping allows', () => {
      // Prepare
      const { sqs } = sdkClients();
      const base = { queueUrl: 'http://127.0.0.1:1/q', client: sqs, handler: async () => undefined };
      // Act / Assess
      expect(() => startSqsPoller({ ...base, batchSize: 11 })).toThrow(
        /batchSize must be an integer from 1 to 10/,
      );
      expect(() => startSqsPoller({ ...base, maxConcurrency: 0 })).toThrow(/maxConcurrency/);
      expect(() => startSqsPoller({ ...base, waitTimeSeconds: 21 })).toThrow(/waitTimeSeconds/);
    });
  });
});

describe('local emulator state across restarts', () => {
  let restoreEnv: (() => void) | undefined;
  let running: Emulators | undefined;
  const children: ChildProcess[] = [];

  afterEach(async () => {
    restoreEnv?.();
    restoreEnv = undefined;
    await running?.close();
    running = undefined;
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  async function seed(e: Emulators) {
    restoreEnv = useEnvironment(e);
    const { ddb, s3, sqs } = sdkClients();
    await createTable(ddb, {
      TableName: 'state',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    await ddb.send(new PutItemCommand({ TableName: 'state', Item: { pk: { S: 'k' }, v: { N: '42' } } }));
    await s3.send(new CreateBucketCommand({ Bucket: 'state-bucket' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'state-bucket', Key: 'k.bin', Body: Buffer.from([1, 2, 3, 0]) }),
    );
    const { queueUrl } = await createQueueWithDlq(sqs, 'state', 2);
    // One message is in flight (received once, not deleted) when the process stops.
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'in-flight' }));
    await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'waiting' }));
    restoreEnv();
    restoreEnv = undefined;
  }

  async function readBack(e: Emulators) {
    restoreEnv = useEnvironment(e);
    const { ddb, s3, sqs } = sdkClients();
    const item = await ddb.send(new GetItemCommand({ TableName: 'state', Key: { pk: { S: 'k' } } }));
    const object = await s3.send(new GetObjectCommand({ Bucket: 'state-bucket', Key: 'k.bin' }));
    const { QueueUrl: queueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'state' }));
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'],
      }),
    );
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        AttributeNames: ['All'],
      }),
    );
    return {
      value: item.Item?.v?.N,
      bytes: [...((await object.Body?.transformToByteArray()) ?? [])],
      visibilityTimeout: attributes.Attributes?.VisibilityTimeout,
      hasRedrivePolicy: Boolean(attributes.Attributes?.RedrivePolicy),
      messages: (received.Messages ?? [])
        .map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    };
  }

  it('keeps tables, objects, queues and messages (with receive counts) across close() and start', async () => {
    // Prepare
    const dataDir = await tempDir();
    const first = await startEmulators({ dataDir });
    await seed(first);
    await first.close();

    // Act
    running = await startEmulators({ dataDir, ports: portsOf(first) });
    const state = await readBack(running);

    // Assess
    expect(running.sqs).toBe(first.sqs);
    expect(state).toEqual({
      value: '42',
      bytes: [1, 2, 3, 0],
      visibilityTimeout: '1',
      hasRedrivePolicy: true,
      // The in-flight message is visible again at once; its receive count carried over.
      messages: [
        ['in-flight', '2'],
        ['waiting', '1'],
      ],
    });
  });

  it('keeps everything acknowledged before a kill -9', async () => {
    // Prepare
    const dataDir = await tempDir();
    const child = spawnSeedingChild(dataDir);
    const { ports } = await readyLine(child);

    // Act
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    running = await startEmulators({ dataDir, ports });
    const state = await readBack(running);

    // Assess
    expect(state).toEqual({
      value: '42',
      bytes: [1, 2, 3, 0],
      visibilityTimeout: '1',
      hasRedrivePolicy: true,
      messages: [
        ['in-flight', '2'],
        ['waiting', '1'],
      ],
    });
  });

  it('finishes a CreateTable that the process died in the middle of', async () => {
    // Prepare: a table left CREATING on disk, as dynalite leaves it if the process stops between
    // answering CreateTable and the timer that makes the table ACTIVE.
    const dataDir = await tempDir();
    const first = await startEmulators({ dataDir });
    restoreEnv = useEnvironment(first);
    await createTable(sdkClients().ddb, {
      TableName: 'interrupted',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byG',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    restoreEnv();
    restoreEnv = undefined;
    await first.close();
    const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
    const stored = await db.get('table~interrupted');
    await db.put('table~interrupted', {
      ...stored,
      TableStatus: 'CREATING',
      GlobalSecondaryIndexes: stored.GlobalSecondaryIndexes.map((i: object) => ({
        ...i,
        IndexStatus: 'CREATING',
      })),
    });
    await db.close();

    // Act
    running = await startEmulators({ dataDir });
    restoreEnv = useEnvironment(running);
    const { ddb } = sdkClients();
    const described = await ddb.send(new DescribeTableCommand({ TableName: 'interrupted' }));
    await ddb.send(new PutItemCommand({ TableName: 'interrupted', Item: { pk: { S: 'p' }, g: { S: 'x' } } }));
    const viaIndex = await ddb.send(
      new QueryCommand({
        TableName: 'interrupted',
        IndexName: 'byG',
        KeyConditionExpression: 'g = :g',
        ExpressionAttributeValues: { ':g': { S: 'x' } },
      }),
    );

    // Assess
    expect(described.Table?.TableStatus).toBe('ACTIVE');
    expect(described.Table?.GlobalSecondaryIndexes?.[0]?.IndexStatus).toBe('ACTIVE');
    expect(viaIndex.Items?.map((i) => i.pk?.S)).toEqual(['p']);
  });

  it('rebuilds the indexes from the items after an update the process died in the middle of', async () => {
    // Prepare: an item moved from status A to B, killed after dynalite wrote the index entry for B
    // but before the item (dynalite writes index entries first, then the item, one write each).
    const dataDir = await tempDir();
    const first = await startEmulators({ dataDir });
    restoreEnv = useEnvironment(first);
    const byStatus = {
      TableName: 'listing',
      BillingMode: 'PAY_PER_REQUEST' as const,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' as const },
        { AttributeName: 'status', AttributeType: 'S' as const },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' as const }],
          Projection: { ProjectionType: 'ALL' as const },
        },
      ],
    };
    await createTable(sdkClients().ddb, byStatus);
    const { ddb: before } = sdkClients();
    await before.send(
      new PutItemCommand({ TableName: 'listing', Item: { pk: { S: 't1' }, status: { S: 'A' } } }),
    );
    const snapshot = async () => {
      const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
      const out: [string, unknown][] = [];
      for await (const entry of db.iterator({ gte: 'i', lt: 'j' })) out.push(entry);
      await db.close();
      return out;
    };
    await first.close();
    const asA = await snapshot(); // the item and its index entry under A
    running = await startEmulators({ dataDir, ports: portsOf(first) });
    await sdkClients().ddb.send(
      new PutItemCommand({ TableName: 'listing', Item: { pk: { S: 't1' }, status: { S: 'B' } } }),
    );
    restoreEnv();
    restoreEnv = undefined;
    await running.close();
    running = undefined;
    // the update half-done: B's index entry is there, the item (and A's entry) still say A
    const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
    for (const [k, v] of asA) await db.put(k, v);
    await db.close();

    // Act
    running = await startEmulators({ dataDir });
    restoreEnv = useEnvironment(running);
    const { ddb } = sdkClients();
    const under = async (status: string) =>
      (
        await ddb.send(
          new QueryCommand({
            TableName: 'listing',
            IndexName: 'byStatus',
            KeyConditionExpression: '#s = :s',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':s': { S: status } },
          }),
        )
      ).Items?.map((i) => i.pk?.S);

    // Assess: listed once, under the item's own status
    expect(await under('A')).toEqual(['t1']);
    expect(await under('B')).toEqual([]);
  });

  it('refuses a data directory that another live process is using', async () => {
    // Prepare
    const dataDir = await tempDir();
    const child = spawnSeedingChild(dataDir);
    await readyLine(child);

    // Act
    const outcome = await startEmulators({ dataDir }).catch((err: unknown) => err);
    child.kill('SIGKILL');

    // Assess
    expect(outcome).toBeInstanceOf(EmulatorError);
    expect(outcome).toMatchObject({ name: 'Baton.EmulatorError', service: 'dynamodb' });
    expect((outcome as Error).cause).toBeDefined();
  });

  /** A separate Node process that seeds the emulators, reports ready and then waits to be killed. */
  function spawnSeedingChild(dataDir: string): ChildProcess {
    // The timeout only bounds an orphan's life if this test process itself dies.
    const script = `
      import { startEmulators } from ${JSON.stringify(join(projectRoot, 'lib/local/emulators.ts'))};
      const e = await startEmulators({ dataDir: process.env.BATON_TEST_DATA_DIR });
      process.stdout.write(JSON.stringify(e) + '\\n');
      setTimeout(() => process.exit(1), 120_000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: projectRoot,
      env: { ...process.env, BATON_TEST_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return child;
  }

  async function readyLine(child: ChildProcess): Promise<{ ports: ReturnType<typeof portsOf> }> {
    const line = await new Promise<string>((resolveLine, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolveLine(out.slice(0, out.indexOf('\n')));
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
    });
    const endpoints = JSON.parse(line) as Emulators;
    await seed(endpoints);
    return { ports: portsOf(endpoints) };
  }
});
