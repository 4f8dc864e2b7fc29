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
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
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
