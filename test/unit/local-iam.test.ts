/**
 * Local IAM enforcement with real AWS SDK clients against the emulators (behind their
 * authorizing fronts) and the local SFN API: per service, one identity allowed and one denied,
 * AWS's error names and message format, and a forged access key id refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeLimitsCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, LOCAL_CREDENTIALS, startEmulators } from '../../lib/local/emulators.js';
import { type Credentials, LocalIam, type NamedPolicy } from '../../lib/local/iam/index.js';
import { LocalStepFunctions } from '../../lib/local/sfn/index.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const TABLE = 'iam-test';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${TABLE}`;
const BUCKET = 'iam-test-bucket';
const QUEUE = 'iam-test-queue';
const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:${QUEUE}`;
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:iam-test`;

/** The reader: reads the table (and its index), reads objects, sends to the queue, starts executions. */
const readerPolicy: NamedPolicy = {
  name: 'reader',
  policy: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:Query'],
        Resource: [TABLE_ARN, `${TABLE_ARN}/index/*`],
      },
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: `arn:aws:s3:::${BUCKET}/*` },
      { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:ReceiveMessage'], Resource: QUEUE_ARN },
      { Effect: 'Allow', Action: ['states:StartExecution', 'states:SendTaskSuccess'], Resource: SM_ARN },
    ],
  },
};
/** The other: logs only (what AWSLambdaBasicExecutionRole grants). */
const logsOnlyPolicy: NamedPolicy = {
  name: 'logs',
  policy: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
};

let dir: string;
let emulators: Emulators;
let iam: LocalIam;
let reader: Credentials;
let other: Credentials;
let sfn: LocalStepFunctions;
let sfnUrl: string;
let closeSfn: () => Promise<void>;
const READER = `arn:aws:sts::${ACCOUNT}:assumed-role/ReaderRole/Reader`;
const OTHER = `arn:aws:sts::${ACCOUNT}:assumed-role/OtherRole/Other`;

const role = (name: string, policies: NamedPolicy[]) => ({
  logicalId: name,
  roleName: name,
  roleArn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
  policies,
  unknownManagedPolicies: [],
});
const ddb = (credentials: Credentials) =>
  new DynamoDBClient({ region: REGION, endpoint: emulators.dynamodb, credentials });
const s3 = (credentials: Credentials) =>
  new S3Client({ region: REGION, endpoint: emulators.s3, credentials, forcePathStyle: true });
const sqs = (credentials: Credentials) =>
  new SQSClient({ region: REGION, endpoint: emulators.sqs, credentials });
const states = (credentials: Credentials) => new SFNClient({ region: REGION, endpoint: sfnUrl, credentials });
/** The error a call failed with (undefined if it succeeded). */
const failure = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (err: unknown) => err,
  );
const queueUrl = () => `${emulators.sqs}/${ACCOUNT}/${QUEUE}`;

/** A presigned S3 URL as @aws-sdk/s3-request-presigner makes one (the SDK's signer, payload unsigned). */
async function presign(credentials: Credentials, method: 'GET' | 'PUT', key: string): Promise<string> {
  const endpoint = new URL(emulators.s3);
  const { Sha256 } = await import('../../lib/local/iam/sigv4.js');
  const signer = new SignatureV4({
    credentials,
    region: REGION,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
  const path = `/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const signed = await signer.presign(
    {
      method,
      protocol: 'http:',
      hostname: endpoint.hostname,
      port: Number(endpoint.port),
      path,
      query: { 'x-id': method === 'GET' ? 'GetObject' : 'PutObject' },
      headers: { host: endpoint.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: 60 },
  );
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return `${emulators.s3}${path}?${query}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-iam-'));
  iam = new LocalIam({ region: REGION, account: ACCOUNT, admin: LOCAL_CREDENTIALS });
  reader = iam.issueCredentials(iam.principalOf(role('ReaderRole', [readerPolicy]), 'Reader'));
  other = iam.issueCredentials(iam.principalOf(role('OtherRole', [logsOnlyPolicy]), 'Other'));
  emulators = await startEmulators({ dataDir: dir, iam });
  // The admin identity (the runtime's own) is never checked.
  const admin = { ...LOCAL_CREDENTIALS };
  await ddb(admin).send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'g', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byG',
          KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await ddb(admin).send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'a' }, g: { S: 'x' } } }));
  await s3(admin).send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3(admin).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/a.md', Body: 'hello' }));
  await sqs(admin).send(new CreateQueueCommand({ QueueName: QUEUE }));
  sfn = new LocalStepFunctions({ dataDir: join(dir, 'sfn'), invokeLambda: async () => ({}) });
  sfn.registerStateMachine(SM_ARN, { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } });
  const server = await sfn.listen(0, '127.0.0.1', { iam });
  sfnUrl = server.url;
  closeSfn = async () => {
    await server.close();
    await sfn.close();
  };
});

afterAll(async () => {
  await closeSfn?.();
  await emulators?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('local IAM: DynamoDB behind its front', () => {
  it('allows what the policy grants (GetItem, Query on an index) and denies the rest as AccessDeniedException', async () => {
    // Act
    const item = await ddb(reader).send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } } }));
    const viaIndex = await ddb(reader).send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'byG',
        KeyConditionExpression: 'g = :g',
        ExpressionAttributeValues: { ':g': { S: 'x' } },
      }),
    );
    const put = await failure(
      ddb(reader).send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'b' } } })),
    );
    const otherGet = await failure(
      ddb(other).send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } } })),
    );
    const list = await failure(ddb(reader).send(new ListTablesCommand({})));

    // Assess
    expect(item.Item?.pk?.S).toBe('a');
    expect(viaIndex.Items).toHaveLength(1);
    expect(put).toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
      message: `User: ${READER} is not authorized to perform: dynamodb:PutItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:PutItem action`,
    });
    expect(otherGet).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`User: ${OTHER} is not authorized to perform: dynamodb:GetItem`),
    });
    expect(list).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('dynamodb:ListTables on resource: *'),
    });
  });

  it('refuses a forged access key id (right id, wrong secret) and an unknown one', async () => {
    // Prepare
    const forged = ddb({ accessKeyId: reader.accessKeyId, secretAccessKey: other.secretAccessKey });
    const unknown = ddb({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });

    // Act
    const forgedGet = await failure(
      forged.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } } })),
    );
    const unknownGet = await failure(
      unknown.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } } })),
    );

    // Assess
    expect(forgedGet).toMatchObject({ name: 'InvalidSignatureException' });
    expect(unknownGet).toMatchObject({ name: 'UnrecognizedClientException' });
  });

  it('denies an operation the action table does not know, saying so', async () => {
    // Act
    const limits = await failure(ddb(reader).send(new DescribeLimitsCommand({})));

    // Assess
    expect(limits).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('DescribeLimits is not in the action table'),
    });
  });
});

describe('local IAM: S3 behind its front', () => {
  it('allows GetObject/PutObject the policy grants; denies DeleteObject and ListBuckets as AccessDenied (403)', async () => {
    // Act
    const got = await s3(reader).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/a.md' }));
    const body = await got.Body?.transformToString();
    await s3(reader).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/b.md', Body: 'written' }));
    const del = await failure(
      s3(reader).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/a.md' })),
    );
    const buckets = await failure(s3(reader).send(new ListBucketsCommand({})));
    const otherGet = await failure(
      s3(other).send(new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/a.md' })),
    );

    // Assess
    expect(body).toBe('hello');
    expect(del).toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: `User: ${READER} is not authorized to perform: s3:DeleteObject on resource: arn:aws:s3:::${BUCKET}/tasks/t1/a.md because no identity-based policy allows the s3:DeleteObject action`,
    });
    expect(buckets).toMatchObject({ name: 'AccessDenied' });
    expect(otherGet).toMatchObject({ name: 'AccessDenied' });
    const after = await s3(LOCAL_CREDENTIALS).send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/b.md' }),
    );
    expect(await after.Body?.transformToString()).toBe('written');
  });

  it('authenticates presigned URLs by their query string: the signer allowed, denied, tampered or forged', async () => {
    // Prepare
    const allowedUrl = await presign(reader, 'GET', 'tasks/t1/a.md');
    const deniedUrl = await presign(other, 'GET', 'tasks/t1/a.md');
    const forgedUrl = await presign(
      { accessKeyId: reader.accessKeyId, secretAccessKey: other.secretAccessKey },
      'GET',
      'tasks/t1/a.md',
    );
    const putUrl = await presign(reader, 'PUT', 'tasks/t1/up.md');

    // Act
    const allowed = await fetch(allowedUrl);
    const denied = await fetch(deniedUrl);
    const tampered = await fetch(allowedUrl.replace('a.md', 'b.md'));
    const forged = await fetch(forgedUrl);
    const put = await fetch(putUrl, { method: 'PUT', body: 'uploaded' });

    // Assess
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toBe('hello');
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain('<Code>AccessDenied</Code>');
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expect(put.status).toBe(200);
    const uploaded = await s3(LOCAL_CREDENTIALS).send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/t1/up.md' }),
    );
    expect(await uploaded.Body?.transformToString()).toBe('uploaded');
  });
});

describe('local IAM: SQS behind its front', () => {
  it('allows SendMessage/ReceiveMessage on the granted queue and denies the other identity as AccessDenied', async () => {
    // Act
    const sent = await sqs(reader).send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: 'hi' }));
    const received = await sqs(reader).send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl(), WaitTimeSeconds: 1, MaxNumberOfMessages: 1 }),
    );
    const denied = await failure(
      sqs(other).send(new SendMessageCommand({ QueueUrl: queueUrl(), MessageBody: 'no' })),
    );

    // Assess
    expect(sent.MessageId).toBeTruthy();
    expect(received.Messages?.[0]?.Body).toBe('hi');
    expect(denied).toMatchObject({
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
      message: expect.stringContaining(
        `User: ${OTHER} is not authorized to perform: sqs:SendMessage on resource: ${QUEUE_ARN}`,
      ),
    });
  });
});

describe('local IAM: the local Step Functions API', () => {
  it('allows StartExecution to the granted role, denies the other as AccessDeniedException', async () => {
    // Act
    const started = await states(reader).send(new StartExecutionCommand({ stateMachineArn: SM_ARN }));
    const denied = await failure(states(other).send(new StartExecutionCommand({ stateMachineArn: SM_ARN })));
    const forged = await failure(
      states({ accessKeyId: reader.accessKeyId, secretAccessKey: 'wrong' }).send(
        new StartExecutionCommand({ stateMachineArn: SM_ARN }),
      ),
    );

    // Assess
    expect(started.executionArn).toContain(':execution:iam-test:');
    expect(denied).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${OTHER} is not authorized to perform: states:StartExecution on resource: ${SM_ARN} because no identity-based policy allows the states:StartExecution action`,
    });
    expect(forged).toMatchObject({ name: 'InvalidSignatureException' });
  });

  it('checks SendTaskSuccess on the state machine of the token: the allowed role reaches the token check', async () => {
    // Act
    const allowed = await failure(
      states(reader).send(new SendTaskSuccessCommand({ taskToken: 'no-such-token', output: '{}' })),
    );
    const denied = await failure(
      states(other).send(new SendTaskSuccessCommand({ taskToken: 'no-such-token', output: '{}' })),
    );

    // Assess
    expect(allowed).toMatchObject({ name: 'InvalidToken' });
    expect(denied).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`states:SendTaskSuccess on resource: ${SM_ARN}`),
    });
  });
});
