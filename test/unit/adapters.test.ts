import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ArtifactStore, ArtifactStoreError } from '../../lambdas/adapters/artifacts.js';
import { IntakeQueue, QueueError } from '../../lambdas/adapters/queue.js';
import { InvalidCursorError, StoreError, TaskStore } from '../../lambdas/adapters/store.js';
import { WorkflowClient, WorkflowError } from '../../lambdas/adapters/workflow.js';
import { attachment } from '../../lambdas/core/attachment.js';
import { Events } from '../../lambdas/core/events.js';
import { sha256Hex } from '../../lambdas/core/ids.js';

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });
const named = (name: string) => Object.assign(new Error(name), { name });

describe('TaskStore (DynamoDB)', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const store = new TaskStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    'tbl',
  );
  beforeEach(() => ddb.reset());

  it('appends an event with the next sequence number and projects the task status', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});
    ddb.on(UpdateCommand, { Key: { pk: 'TASK#t1', sk: 'COUNTER' } }).resolves({ Attributes: { seq: 7 } });
    ddb.on(PutCommand).resolves({});
    ddb.on(UpdateCommand, { Key: { pk: 'TASK#t1', sk: 'META' } }).resolves({});
    // Act
    const e = await store.appendEvent({
      id: 'r1.TaskSucceeded',
      type: 'TaskSucceeded',
      taskId: 't1',
      traceId: 'tr',
      data: {},
    });
    // Assess
    expect(e?.seq).toBe(7);
    const put = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      TableName: 'tbl',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: {
        pk: 'TASK#t1',
        sk: 'EVT#r1.TaskSucceeded',
        lsi1sk: 'SEQ#000000000007',
        seq: 7,
        type: 'TaskSucceeded',
      },
    });
    const status = ddb.commandCalls(UpdateCommand).find((c) => c.args[0].input.Key?.sk === 'META')
      ?.args[0].input;
    expect(status?.ExpressionAttributeValues).toMatchObject({
      ':s': 'SUCCEEDED',
      ':g': 'STATUS#SUCCEEDED',
      ':seq': 7,
    });
    expect(status?.ConditionExpression).toContain('statusSeq < :seq');
  });

  it('writes nothing for an event it already has (a retried Lambda): the conditional put refuses it', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(UpdateCommand).resolves({ Attributes: { seq: 3 } });
    ddb.on(PutCommand).rejects(conditionFailed());
    expect(
      await store.appendEvent(
        Events.stepStarted(
          { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a', attempt: 1 },
          { attempt: 1, agent: 'echo', run: 1 },
        ),
      ),
    ).toBeUndefined();
  });

  it('reads events back typed by their schema, without the table keys, and refuses a malformed one', async () => {
    // Prepare
    const event = {
      ...Events.stepStarted(
        { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a', attempt: 2 },
        { attempt: 2, agent: 'echo', run: 1 },
      ),
      seq: 4,
      at: '2026-01-01T00:00:00.000Z',
    };
    const keys = { pk: 'TASK#t1', sk: `EVT#${event.id}`, lsi1sk: 'SEQ#000000000004' };
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ ...keys, ...event }] })
      .resolvesOnce({ Items: [{ ...keys, ...event, data: { ...event.data, attempt: 'two' } }] });
    // Act
    const page = await store.listEvents('t1', { limit: 10 });
    const err = await store.listEvents('t1', { limit: 10 }).catch((e) => e);
    // Assess
    expect(page.events).toEqual([event]);
    expect(Object.keys(page.events[0] ?? {})).toEqual([
      'id',
      'seq',
      'at',
      'type',
      'taskId',
      'stepId',
      'traceId',
      'data',
    ]);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toContain('EVT#r1.StepStarted.a.2');
    expect(err.cause.issues[0].path).toEqual(['data', 'attempt']);
  });

  it('wraps unexpected DynamoDB errors with the cause kept', async () => {
    ddb.on(PutCommand).rejects(named('ProvisionedThroughputExceededException'));
    const err = await store.putPlan('t1', { steps: [], source: 'explicit' }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.cause.name).toBe('ProvisionedThroughputExceededException');
  });

  it('keeps a succeeded step result: a later run cannot overwrite it', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    const written = await store.putResult('t1', { stepId: 'a', run: 2, status: 'FAILED', at: 'now' });
    expect(written).toBe(false);
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.ConditionExpression).toBe(
      'attribute_not_exists(pk) OR (#run < :run AND (#status <> :ok OR #items.#failed > :zero))',
    );
  });

  it('returns the earlier task for a reused idempotency key', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { taskId: 'old', requestHash: 'h1' } });
    const claim = await store.claimIdempotencyKey('k', 'new', 'h2', '2026-01-01T00:00:00.000Z');
    expect(claim).toEqual({ taskId: 'old', requestHash: 'h1', fresh: false });
  });

  it('pages task listings with an opaque cursor and refuses a forged one', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [{ taskId: 't', goal: 'g', status: 'RUNNING', createdAt: 'c', updatedAt: 'u', pk: 'x' }],
      LastEvaluatedKey: { pk: 'TASK#t', sk: 'META', gsi1pk: 'STATUS#RUNNING', gsi1sk: 'c#t' },
    });
    const page = await store.listTasks({ status: 'RUNNING', limit: 1 });
    expect(page.tasks).toEqual([
      { taskId: 't', goal: 'g', status: 'RUNNING', createdAt: 'c', updatedAt: 'u' },
    ]);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: 'byStatus',
      ScanIndexForward: false,
    });
    await store.listTasks({ status: 'RUNNING', limit: 1, cursor: page.next });
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({
      pk: 'TASK#t',
      sk: 'META',
      gsi1pk: 'STATUS#RUNNING',
      gsi1sk: 'c#t',
    });
    // Not ours: garbage, a key without the index's attributes, a cursor of another listing
    const forged = Buffer.from(JSON.stringify({ pk: 'TASK#t_x', sk: 'META' })).toString('base64url');
    for (const [cursor, status] of [
      ['%%%', undefined],
      [forged, 'RUNNING'],
      [page.next, 'FAILED'],
      [page.next, undefined],
    ] as const)
      await expect(
        store.listTasks({ limit: 1, cursor: cursor as string, ...(status ? { status } : {}) }),
      ).rejects.toBeInstanceOf(InvalidCursorError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(2);
  });
});

describe('WorkflowClient (Step Functions)', () => {
  const sfn = mockClient(SFNClient);
  const wf = new WorkflowClient(new SFNClient({ region: 'us-east-1' }), 'arn:sm');
  beforeEach(() => sfn.reset());

  it('names executions after task and run, and treats a duplicate start as started', async () => {
    sfn.on(StartExecutionCommand).rejectsOnce(named('ExecutionAlreadyExists'));
    expect(await wf.start('t1', 2, { taskId: 't1', run: 2 })).toEqual({ alreadyStarted: true });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: 'arn:sm',
      name: 't1-r2',
      input: '{"taskId":"t1","run":2}',
    });
  });

  it('answers a duplicate task-token callback without failing', async () => {
    sfn.on(SendTaskSuccessCommand).rejectsOnce(named('TaskTimedOut')).rejectsOnce(named('InvalidToken'));
    expect(await wf.succeed('tok', { action: 'run' })).toBe(false);
    expect(await wf.succeed('tok', { action: 'run' })).toBe(false);
  });

  it('raises other Step Functions errors with the cause kept', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(named('ThrottlingException'));
    const err = await wf.succeed('tok', {}).catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowError);
    expect(err.cause.name).toBe('ThrottlingException');
  });
});

describe('ArtifactStore (S3) and IntakeQueue (SQS)', () => {
  const s3 = mockClient(S3Client);
  const sqs = mockClient(SQSClient);
  beforeEach(() => {
    s3.reset();
    sqs.reset();
  });

  it('stores bytes under the task/step/attempt key with their sha256', async () => {
    s3.on(PutObjectCommand).resolves({});
    const store = new ArtifactStore(new S3Client({ region: 'us-east-1' }), 'bkt');
    const body = Buffer.from('hello');
    const meta = await store.put({
      taskId: 't',
      stepId: 's',
      attempt: 2,
      name: 'n.txt',
      contentType: 'text/plain',
      body,
    });
    expect(meta).toMatchObject({ s3Key: 'tasks/t/steps/s/2/n.txt', size: 5, sha256: sha256Hex(body) });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'bkt',
      Key: 'tasks/t/steps/s/2/n.txt',
      ContentType: 'text/plain',
      Metadata: { sha256: sha256Hex(body) },
    });
  });

  it('reads bytes back and wraps a missing object', async () => {
    // The SDK's stream body: only the method the adapter uses.
    const body = { transformToByteArray: async () => new Uint8Array(Buffer.from('abc')) };
    s3.on(GetObjectCommand)
      .resolvesOnce({ Body: body as never })
      .rejectsOnce(named('NoSuchKey'));
    const store = new ArtifactStore(new S3Client({ region: 'us-east-1' }), 'bkt');
    expect(Buffer.from(await store.get('k')).toString()).toBe('abc');
    await expect(store.get('k')).rejects.toBeInstanceOf(ArtifactStoreError);
  });

  it('enqueues intake messages and wraps send failures', async () => {
    sqs.on(SendMessageCommand).resolvesOnce({}).rejectsOnce(named('QueueDoesNotExist'));
    const q = new IntakeQueue(new SQSClient({ region: 'us-east-1' }), 'url');
    await q.send({ taskId: 't', run: 1, traceId: 'tr' });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toMatchObject({
      QueueUrl: 'url',
      MessageBody: '{"taskId":"t","run":1,"traceId":"tr"}',
    });
    await expect(q.send({ taskId: 't', run: 1, traceId: 'tr' })).rejects.toBeInstanceOf(QueueError);
  });
});

describe('ArtifactStore download URLs', () => {
  it('presigns a short-lived GET of exactly that object, with its type and name fixed in the URL', async () => {
    // Prepare: a client with static credentials (presigning is computed locally, no call is made)
    const client = new S3Client({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    const store = new ArtifactStore(client, 'bkt');
    // Act
    const url = new URL(
      await store.downloadUrl('tasks/t/steps/s/1/report "final".pdf', {
        contentType: 'application/pdf',
        fileName: 'report "final".pdf',
        expiresInSeconds: 300,
      }),
    );
    // Assess
    expect(url.hostname).toBe('bkt.s3.eu-west-1.amazonaws.com');
    expect(decodeURIComponent(url.pathname)).toBe('/tasks/t/steps/s/1/report "final".pdf');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get('response-content-type')).toBe('application/pdf');
    expect(url.searchParams.get('response-content-disposition')).toBe(
      `attachment; filename="report _final_.pdf"; filename*=UTF-8''report%20%22final%22.pdf`,
    );
  });
});

describe('attachment (Content-Disposition)', () => {
  it('keeps a plain name, and quotes only safe ASCII while the extended form carries the exact name', () => {
    expect(attachment('a.txt')).toBe(`attachment; filename="a.txt"; filename*=UTF-8''a.txt`);
    expect(attachment('zürich\\(1).csv')).toBe(
      `attachment; filename="z_rich_(1).csv"; filename*=UTF-8''z%C3%BCrich%5C%281%29.csv`,
    );
  });
});
