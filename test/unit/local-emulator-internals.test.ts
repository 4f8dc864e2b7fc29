/**
 * Guards the places where lib/local/emulators.ts relies on dynalite and local-aws-sqs internals
 * (and lib/local/sfn on aws-local-stepfunctions, see local-sfn-library.test.ts): the packages are
 * pinned to exact versions, the internals have the shape the patches expect, and each patch
 * still fixes what it is there for. A failure here after an upgrade names the patch to revisit.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  TagResourceCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createRequestHandler } from 'local-aws-sqs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Emulators, LOCAL_REGION, startEmulators } from '../../lib/local/emulators.js';

const projectRoot = resolve(import.meta.dirname, '../..');
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** dynalite's own LevelDB binding (the one emulators.ts opens to settle table transitions). */
const { Level } = createRequire(createRequire(import.meta.url).resolve('dynalite'))('level') as {
  Level: new (
    location: string,
    options: { valueEncoding: 'json' },
  ) => {
    keys(): AsyncIterable<string>;
    get(key: string): Promise<Record<string, unknown>>;
    put(key: string, value: unknown): Promise<void>;
    close(): Promise<void>;
  };
};

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-internals-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

describe('emulator packages whose internals lib/local relies on', () => {
  it.each(['aws-local-stepfunctions', 'dynalite', 'local-aws-sqs'])(
    'pins %s to the exact version that is installed',
    async (name) => {
      // Prepare
      const manifest = await readJson(join(projectRoot, 'package.json'));
      const installed = await readJson(join(projectRoot, 'node_modules', name, 'package.json'));

      // Act
      const spec = {
        ...(manifest.dependencies as object),
        ...(manifest.devDependencies as object),
      } as Record<string, string>;

      // Assess
      expect(spec[name]).toMatch(/^\d+\.\d+\.\d+$/);
      expect(installed.version).toBe(spec[name]);
    },
  );
});

const GSI_TABLE: CreateTableCommandInput = {
  TableName: 'layout',
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
    { AttributeName: 'g', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'byG',
      KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
  LocalSecondaryIndexes: [
    {
      IndexName: 'byPkG',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'g', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
  ],
};

describe('dynalite internals (settleTableTransitions in lib/local/emulators.ts)', () => {
  let running: Emulators | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  const dynamo = (e: Emulators) =>
    new DynamoDBClient({ endpoint: e.dynamodb, region: LOCAL_REGION, credentials });

  async function createTable(ddb: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
    await ddb.send(new CreateTableCommand(input));
    await waitUntilTableExists(
      { client: ddb, maxWaitTime: 10, minDelay: 0.05, maxDelay: 0.2 },
      { TableName: input.TableName },
    );
  }

  it('keeps tables, items, indexes and tags under the LevelDB key prefixes the patch clears', async () => {
    // Prepare
    const dataDir = await tempDir();
    running = await startEmulators({ dataDir });
    const ddb = dynamo(running);
    await createTable(ddb, GSI_TABLE);
    await ddb.send(
      new PutItemCommand({ TableName: 'layout', Item: { pk: { S: 'p' }, sk: { S: 's' }, g: { S: 'x' } } }),
    );
    await ddb.send(
      new TagResourceCommand({
        ResourceArn: `arn:aws:dynamodb:${LOCAL_REGION}:000000000000:table/layout`,
        Tags: [{ Key: 'k', Value: 'v' }],
      }),
    );
    await running.close();
    running = undefined;

    // Act
    const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
    const keys: string[] = [];
    for await (const key of db.keys()) keys.push(key);
    const table = await db.get('table~layout');
    await db.close();

    // Assess
    const prefixes = ['item-layout~', 'tag-layout~', 'index-local~layout~', 'index-global~layout~'];
    for (const prefix of prefixes) expect(keys.some((k) => k.startsWith(prefix))).toBe(true);
    expect(table).toMatchObject({
      TableName: 'layout',
      TableStatus: 'ACTIVE',
      GlobalSecondaryIndexes: [expect.objectContaining({ IndexName: 'byG', IndexStatus: 'ACTIVE' })],
    });
  });

  it('drops a table the process died in the middle of deleting, so that it can be created again', async () => {
    // Prepare: a table left DELETING on disk, as dynalite leaves it if the process stops between
    // answering DeleteTable and the timer that removes the table.
    const dataDir = await tempDir();
    running = await startEmulators({ dataDir });
    await createTable(dynamo(running), GSI_TABLE);
    await dynamo(running).send(
      new PutItemCommand({ TableName: 'layout', Item: { pk: { S: 'p' }, sk: { S: 's' }, g: { S: 'x' } } }),
    );
    await running.close();
    running = undefined;
    const db = new Level(join(dataDir, 'dynamodb'), { valueEncoding: 'json' });
    await db.put('table~layout', { ...(await db.get('table~layout')), TableStatus: 'DELETING' });
    await db.close();

    // Act
    running = await startEmulators({ dataDir });
    const ddb = dynamo(running);
    const described = await ddb
      .send(new DescribeTableCommand({ TableName: 'layout' }))
      .catch((err: Error) => err);
    await createTable(ddb, GSI_TABLE);
    const scanned = await ddb.send(new ScanCommand({ TableName: 'layout' }));

    // Assess
    expect(described).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(scanned.Items).toEqual([]);
  });
});

describe('local-aws-sqs internals (SqsJournal in lib/local/emulators.ts)', () => {
  let running: Emulators | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  function standalone() {
    return createRequestHandler({
      port: 0,
      hostname: '127.0.0.1',
      region: LOCAL_REGION,
      accountId: '000000000000',
      emulateQueueCreationLifecycle: false,
      queues: [{ QueueName: 'shape', Attributes: { VisibilityTimeout: '30' }, tags: { t: '1' } }],
    });
  }

  it('exposes the service and queue members the journal reads, wraps and restores into', async () => {
    // Prepare
    const { service, requestHandler } = standalone();
    const queue = service.Queues.find((q) => q.QueueName === 'shape');

    try {
      // Act
      const item: unknown = queue?.setRecord({ MessageBody: 'hello', DelaySeconds: 0 }, 'fixed-id');
      const received = (await queue?.receive({ MaxNumberOfMessages: 1, WaitTimeSeconds: 0 })) ?? [];
      const [record] = received as { MessageId: string; ReceiptHandle: string; attributes: object }[];
      const handle = Buffer.from(record?.ReceiptHandle ?? '', 'base64').toString('utf8');
      const attributes = queue?.getAttributes(['All']) as Record<string, unknown>;

      // Assess
      expect(typeof requestHandler).toBe('function');
      expect(service).toMatchObject({ REGION: LOCAL_REGION, ACCOUNT_ID: '000000000000' });
      expect(typeof service.HOSTNAME).toBe('string');
      expect(typeof service.PORT).toBe('number');
      expect(typeof service.validateDlqDestination).toBe('boolean');
      expect(typeof service.resetAll).toBe('function');
      for (const method of ['setRecord', 'receive', 'delete', 'clearRecords', 'getAttributes'] as const) {
        expect(typeof queue?.[method]).toBe('function');
      }
      expect(queue).toMatchObject({ DelaySeconds: 0, Tags: { t: '1' } });
      expect(typeof queue?.MessageRetentionPeriod).toBe('number');
      expect(item).toMatchObject({
        record: { MessageId: 'fixed-id', attributes: { SentTimestamp: expect.any(String) } },
      });
      expect(record).toMatchObject({
        MessageId: 'fixed-id',
        attributes: { ApproximateReceiveCount: '1', ApproximateFirstReceiveTimestamp: expect.any(String) },
      });
      expect(JSON.parse(handle.slice(handle.indexOf('{')))).toMatchObject({ MessageId: 'fixed-id' });
      expect(attributes).toMatchObject({ VisibilityTimeout: '30' });
    } finally {
      service.resetAll();
    }
  });

  it('still holds a long poll for MaxNumberOfMessages when fewer are there (why receive is wrapped)', async () => {
    // Prepare
    const { service } = standalone();
    const queue = service.Queues.find((q) => q.QueueName === 'shape');
    queue?.setRecord({ MessageBody: 'only one' });
    const started = Date.now();

    try {
      // Act
      const received = (await queue?.receive({ MaxNumberOfMessages: 10, WaitTimeSeconds: 1 })) ?? [];

      // Assess: if this starts failing, the library answers early by itself and the wrapper can go.
      expect(received).toHaveLength(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      service.resetAll();
    }
  });

  it('answers a long poll as soon as any message is there, like SQS', async () => {
    // Prepare
    running = await startEmulators({ dataDir: await tempDir() });
    const sqs = new SQSClient({ endpoint: running.sqs, region: LOCAL_REGION, credentials });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'fast' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'only one' }));
    const started = Date.now();

    // Act
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }),
    );

    // Assess
    expect(received.Messages?.map((m) => m.Body)).toEqual(['only one']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  describe('a long poll waiting on an empty queue (woken by what can make a message visible)', () => {
    const WAIT_SECONDS = 15;
    async function queueOf(name: string) {
      // No backstop within the wait: only a wake-up can answer a poll before it ends.
      running = await startEmulators({ dataDir: await tempDir(), sqsRecheckMs: 60_000 });
      const sqs = new SQSClient({ endpoint: running.sqs, region: LOCAL_REGION, credentials });
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      const poll = (input: Partial<ReceiveMessageCommandInput> = {}, abortSignal?: AbortSignal) =>
        sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: WAIT_SECONDS,
            AttributeNames: ['All'],
            ...input,
          }),
          { abortSignal },
        );
      return { sqs, QueueUrl, poll };
    }
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('is answered by a message sent while it waits', async () => {
      // Prepare
      const { sqs, QueueUrl, poll } = await queueOf('sent-meanwhile');
      const started = Date.now();
      const waiting = poll();
      await pause(300);

      // Act
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }));
      const received = await waiting;

      // Assess: answered by the send, not at the end of its wait
      expect(received.Messages?.map((m) => m.Body)).toEqual(['late']);
      expect(Date.now() - started).toBeLessThan(WAIT_SECONDS * 1000);
    });

    it('gets a message back once its visibility timeout runs out', async () => {
      // Prepare
      const { sqs, QueueUrl, poll } = await queueOf('redelivered');
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'not deleted' }));
      const first = await poll({ VisibilityTimeout: 1 });
      const started = Date.now();

      // Act
      const again = await poll();

      // Assess: woken by the timeout, not at the end of its wait
      expect(first.Messages?.map((m) => m.Body)).toEqual(['not deleted']);
      expect(Date.now() - started).toBeLessThan(WAIT_SECONDS * 1000);
      expect(again.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([
        ['not deleted', '2'],
      ]);
    });

    it('gets a message whose visibility is changed to 0 at once', async () => {
      // Prepare
      const { sqs, QueueUrl, poll } = await queueOf('released');
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'handed back' }));
      const first = await poll({ VisibilityTimeout: 600 });
      const handle = first.Messages?.[0]?.ReceiptHandle;
      const started = Date.now();
      const waiting = poll();
      await pause(300);

      // Act
      await sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }),
      );
      const again = await waiting;

      // Assess
      expect(again.Messages?.map((m) => m.Body)).toEqual(['handed back']);
      expect(Date.now() - started).toBeLessThan(WAIT_SECONDS * 1000);
    });

    it('gets a delayed message when its delay ends', async () => {
      // Prepare
      const { sqs, QueueUrl, poll } = await queueOf('delayed');
      const sentAt = Date.now();
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'later', DelaySeconds: 1 }));

      // Act
      const received = await poll();

      // Assess: not before its delay, and not at the end of the wait
      expect(received.Messages?.map((m) => m.Body)).toEqual(['later']);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(900);
      expect(Date.now() - sentAt).toBeLessThan(WAIT_SECONDS * 1000);
    });

    it('ends when its client goes, and takes nothing sent afterwards', async () => {
      // Prepare
      const { sqs, QueueUrl, poll } = await queueOf('abandoned');
      const abort = new AbortController();
      const started = Date.now();
      const waiting = poll({}, abort.signal).catch((err: unknown) => err);
      await pause(300);

      // Act
      abort.abort();
      const ended = await waiting;
      await pause(50);
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'for the next one' }));
      const next = await poll({ WaitTimeSeconds: 1 });

      // Assess: the abandoned poll did not make the message invisible
      expect(ended).toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeLessThan(WAIT_SECONDS * 1000);
      expect(next.Messages?.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([
        ['for the next one', '1'],
      ]);
    });

    it('ends at once when its client goes, so that it holds up no close()', async () => {
      // Prepare
      const { poll } = await queueOf('closing');
      const emulators = running;
      const abort = new AbortController();
      const waiting = poll({ WaitTimeSeconds: 20 }, abort.signal).catch((err: unknown) => err);
      await pause(300);
      abort.abort();
      await waiting;
      const closing = Date.now();

      // Act
      await emulators?.close();
      running = undefined;

      // Assess: close() waits for the requests in flight (here for up to 20 s); the abandoned
      // poll was no longer one of them
      expect(Date.now() - closing).toBeLessThan(10_000);
    });
  });

  it('moves a message that was at its last allowed receive when the process stopped to the dead-letter queue', async () => {
    // Prepare
    const dataDir = await tempDir();
    const first = await startEmulators({ dataDir });
    let sqs = new SQSClient({ endpoint: first.sqs, region: LOCAL_REGION, credentials });
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: 'last-dlq' }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    const source = await sqs.send(
      new CreateQueueCommand({
        QueueName: 'last',
        Attributes: {
          VisibilityTimeout: '300',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
        },
      }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl: source.QueueUrl, MessageBody: 'exhausted' }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: source.QueueUrl, WaitTimeSeconds: 0 }));
    await first.close();

    // Act
    running = await startEmulators({ dataDir, ports: { sqs: Number(new URL(first.sqs).port) } });
    sqs = new SQSClient({ endpoint: running.sqs, region: LOCAL_REGION, credentials });
    const inDlq = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.QueueUrl,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
      }),
    );
    const depth = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: source.QueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );

    // Assess
    expect(inDlq.Messages?.map((m) => m.Body)).toEqual(['exhausted']);
    expect(inDlq.Messages?.[0]?.Attributes?.DeadLetterQueueSourceArn).toMatch(/:last$/);
    expect(depth.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });
});
