/**
 * The local Step Functions' Distributed Map (lib/local/sfn/distributed-map.ts), driven with small
 * synthetic state machines on the real local S3 emulator behind local IAM: the engine's S3 calls
 * sign as the state machine's role and are checked against its policy, as in local mode.
 * Each case names the AWS page whose behaviour it checks.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, LOCAL_CREDENTIALS, startEmulators } from '../../lib/local/emulators.js';
import { LocalIam, type NamedPolicy } from '../../lib/local/iam/index.js';
import { prepareDefinition } from '../../lib/local/sfn/definition.js';
import { type LocalLambdaInvoker, LocalStepFunctions, SfnServiceError } from '../../lib/local/sfn/index.js';
import { MAX_TIMER_SECONDS } from '../../lib/local/sfn/types.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const BUCKET = 'dmap-data';
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Fan`;
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
const DISTRIBUTED = { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' };
const PASS_PROCESSOR = {
  ProcessorConfig: DISTRIBUTED,
  StartAt: 'Echo',
  States: { Echo: { Type: 'Pass', End: true } },
};
const WRITER = {
  Resource: 'arn:aws:states:::s3:putObject',
  Parameters: { Bucket: BUCKET, Prefix: 'results' },
};
const reader = (key: string, config: Record<string, unknown>) => ({
  Resource: 'arn:aws:states:::s3:getObject',
  ReaderConfig: config,
  Parameters: { Bucket: BUCKET, Key: key },
});

/** What the state machine's role may do: the bucket, and starting / redriving its child workflows. */
const ROLE_POLICY: NamedPolicy = {
  name: 'fan',
  policy: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: `arn:aws:s3:::${BUCKET}/*`,
      },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}` },
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: SM_ARN },
      {
        Effect: 'Allow',
        Action: 'states:RedriveExecution',
        Resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:Fan/*:*`,
      },
    ],
  },
};

let dir: string;
let emulators: Emulators;
let iam: LocalIam;
let admin: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'baton-dmap-'));
  iam = new LocalIam({ region: REGION, account: ACCOUNT, admin: LOCAL_CREDENTIALS });
  emulators = await startEmulators({ dataDir: path.join(dir, 'emulators'), iam });
  admin = new S3Client({
    region: REGION,
    endpoint: emulators.s3,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  admin?.destroy();
  await emulators?.close();
  await rm(dir, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let machines = 0;

/** A LocalStepFunctions whose engine signs its S3 calls as a role with `policies`. */
async function emulator(
  definition: object,
  opts: { invoke?: LocalLambdaInvoker; policies?: NamedPolicy[]; dataDir?: string } = {},
) {
  const principal = iam.principalOf(
    {
      logicalId: 'FanRole',
      roleName: 'FanRole',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/FanRole`,
      policies: opts.policies ?? [ROLE_POLICY],
      unknownManagedPolicies: [],
    },
    `Fan${machines++}`,
  );
  const s3 = new S3Client({
    region: REGION,
    endpoint: emulators.s3,
    credentials: iam.issueCredentials(principal),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(dir, 'sfn-')));
  const sfn = new LocalStepFunctions({
    dataDir,
    invokeLambda: opts.invoke ?? (async () => null),
    s3,
    authorizeEngineCall: (action, resource) => iam.check(principal, [{ action, resource }]),
  });
  sfn.registerStateMachine(SM_ARN, definition);
  cleanups.push(async () => {
    await sfn.close();
    s3.destroy();
  });
  return { sfn, dataDir };
}

async function put(key: string, body: string): Promise<void> {
  await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function get(key: string): Promise<string> {
  const out = await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await out.Body?.transformToString()) ?? '';
}

interface Run {
  executionArn: string;
  status: string;
  error?: string;
  cause?: string;
  output: unknown;
  history: Array<Record<string, unknown> & { type: string }>;
}

async function execute(sfn: LocalStepFunctions, input: unknown, name = `run-${Date.now()}`): Promise<Run> {
  const started = await sfn.handle('StartExecution', {
    stateMachineArn: SM_ARN,
    name,
    input: JSON.stringify(input),
  });
  await sfn.idle();
  return described(sfn, started.executionArn as string);
}

async function described(sfn: LocalStepFunctions, executionArn: string): Promise<Run> {
  const out = await sfn.handle('DescribeExecution', { executionArn });
  const history = (await sfn.handle('GetExecutionHistory', { executionArn, maxResults: 1000 }))
    .events as Run['history'];
  return {
    executionArn,
    status: out.status as string,
    error: out.error as string | undefined,
    cause: out.cause as string | undefined,
    output: typeof out.output === 'string' ? JSON.parse(out.output) : undefined,
    history,
  };
}

interface Manifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', Array<{ Key: string; Size: number }>>;
}

async function resultFiles(
  output: unknown,
): Promise<{ manifest: Manifest; files: Record<string, unknown[]> }> {
  const details = (output as { ResultWriterDetails: { Bucket: string; Key: string } }).ResultWriterDetails;
  const manifest = JSON.parse(await get(details.Key)) as Manifest;
  const files: Record<string, unknown[]> = {};
  for (const [status, entries] of Object.entries(manifest.ResultFiles)) {
    files[status] = [];
    for (const entry of entries) files[status].push(...(JSON.parse(await get(entry.Key)) as unknown[]));
  }
  return { manifest, files };
}

describe('Distributed Map: ItemReader, ItemSelector, ResultWriter', () => {
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html (JSON)
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html ($$.Map.Item)
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
  it('reads a JSON array from S3, runs a child per item with $$.Map.Item.Index/Value, and writes the results to S3', async () => {
    // Prepare
    await put('in/items.json', JSON.stringify([{ n: 'a' }, { n: 'b' }, { n: 'c' }]));
    const { sfn } = await emulator({
      StartAt: 'Fan',
      States: {
        Fan: {
          Type: 'Map',
          ItemReader: reader('in/items.json', { InputType: 'JSON' }),
          ItemSelector: { 'index.$': '$$.Map.Item.Index', 'value.$': '$$.Map.Item.Value', 'tag.$': '$.tag' },
          ItemProcessor: PASS_PROCESSOR,
          ResultWriter: WRITER,
          ResultPath: '$.fan',
          End: true,
        },
      },
    });

    // Act
    const run = await execute(sfn, { tag: 'x' });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    const output = run.output as {
      tag: string;
      fan: { MapRunArn: string; ResultWriterDetails: Record<string, string> };
    };
    const id = output.fan.MapRunArn.split(':').at(-1);
    expect(output.fan.MapRunArn).toMatch(
      /^arn:aws:states:us-east-1:000000000000:mapRun:Fan\/Fan:[0-9a-f-]{36}$/,
    );
    expect(output.fan.ResultWriterDetails).toEqual({ Bucket: BUCKET, Key: `results/${id}/manifest.json` });
    const { manifest, files } = await resultFiles(output.fan);
    expect(manifest).toMatchObject({
      DestinationBucket: BUCKET,
      MapRunArn: output.fan.MapRunArn,
      ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: `results/${id}/SUCCEEDED_0.json` }] },
    });
    const succeeded = files.SUCCEEDED as Array<Record<string, unknown>>;
    expect(succeeded.map((e) => JSON.parse(e.Output as string))).toEqual([
      { index: 0, value: { n: 'a' }, tag: 'x' },
      { index: 1, value: { n: 'b' }, tag: 'x' },
      { index: 2, value: { n: 'c' }, tag: 'x' },
    ]);
    expect(succeeded[0]).toMatchObject({
      ExecutionArn: expect.stringMatching(
        /^arn:aws:states:us-east-1:000000000000:execution:Fan\/Fan:[0-9a-f-]{36}$/,
      ),
      InputDetails: { Included: true },
      OutputDetails: { Included: true },
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      StateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Fan/Fan',
      Status: 'SUCCEEDED',
    });
    expect(JSON.parse(succeeded[0]?.Input as string)).toEqual({ index: 0, value: { n: 'a' }, tag: 'x' });
    expect((manifest.ResultFiles.SUCCEEDED[0] as { Size: number }).Size).toBe(
      Buffer.byteLength(await get(`results/${id}/SUCCEEDED_0.json`)),
    );
    // The children have histories of their own: the parent's is the Map Run's milestones only.
    expect(run.history.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'MapStateEntered',
      'MapRunStarted',
      'MapRunSucceeded',
      'MapStateExited',
      'ExecutionSucceeded',
    ]);
  });
});

/** In-process "Lambdas": each call recorded with its payload. */
function lambdas(functions: Record<string, (payload: Record<string, unknown>) => unknown>) {
  const calls: Array<{ name: string; payload: Record<string, unknown> }> = [];
  const invoke: LocalLambdaInvoker = async (name, payload) => {
    calls.push({ name, payload: payload as Record<string, unknown> });
    const fn = functions[name];
    if (!fn)
      throw Object.assign(new Error(`Function not found: ${name}`), {
        name: 'Lambda.ResourceNotFoundException',
      });
    return fn(payload as Record<string, unknown>);
  };
  return { calls, invoke };
}

class LambdaError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** An ItemProcessor of one Task state calling the function `name` with the child's input. */
const lambdaProcessor = (name: string, task: Record<string, unknown> = {}) => ({
  ProcessorConfig: DISTRIBUTED,
  StartAt: 'Work',
  States: { Work: { Type: 'Task', Resource: fnArn(name), End: true, ...task } },
});

const mapState = (fields: Record<string, unknown>) => ({
  StartAt: 'Fan',
  States: { Fan: { Type: 'Map', End: true, ...fields } },
});

describe('Distributed Map: readers', () => {
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html (JSONL, CSV)
  it('reads JSON Lines, and CSV with the header in the first row or given, values as strings', async () => {
    // Prepare
    await put('in/items.jsonl', '{"id":1}\n\n{"id":2,"tags":["x"]}\n{"id":3}\n');
    await put('in/first-row.csv', 'name,qty\nbolt,3\n"nut, hex",10\n');
    await put('in/given.csv', 'bolt;3\nnut;10\n');
    const collect = async (itemReader: Record<string, unknown>) => {
      const { sfn } = await emulator(mapState({ ItemReader: itemReader, ItemProcessor: PASS_PROCESSOR }));
      return execute(sfn, {});
    };

    // Act
    const jsonl = await collect(reader('in/items.jsonl', { InputType: 'JSONL' }));
    const firstRow = await collect(
      reader('in/first-row.csv', { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' }),
    );
    const given = await collect(
      reader('in/given.csv', {
        InputType: 'CSV',
        CSVHeaderLocation: 'GIVEN',
        CSVHeaders: ['name', 'qty'],
        CSVDelimiter: 'SEMICOLON',
        MaxItems: 1,
      }),
    );

    // Assess
    expect(jsonl.output).toEqual([{ id: 1 }, { id: 2, tags: ['x'] }, { id: 3 }]);
    expect(firstRow.output).toEqual([
      { name: 'bolt', qty: '3' },
      { name: 'nut, hex', qty: '10' },
    ]);
    expect(given.output).toEqual([{ name: 'bolt', qty: '3' }]);
  });

  it('lists objects under a prefix with s3:listObjectsV2, one item per object', async () => {
    // Prepare
    await put('listed/a.txt', 'aa');
    await put('listed/b.txt', 'bbbb');
    await put('elsewhere/c.txt', 'c');
    const { sfn } = await emulator(
      mapState({
        ItemReader: {
          Resource: 'arn:aws:states:::s3:listObjectsV2',
          Parameters: { Bucket: BUCKET, 'Prefix.$': '$.prefix' },
        },
        ItemProcessor: PASS_PROCESSOR,
      }),
    );

    // Act
    const run = await execute(sfn, { prefix: 'listed/' });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    const items = run.output as Array<Record<string, unknown>>;
    expect(items.map((i) => [i.Key, i.Size, i.StorageClass])).toEqual([
      ['listed/a.txt', 2, 'STANDARD'],
      ['listed/b.txt', 4, 'STANDARD'],
    ]);
    expect(items[0]?.Etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(items[0]?.LastModified).toEqual(expect.any(Number));
  });

  it('fails with States.ItemReaderFailed, which Catch can route, when the role may not read the object', async () => {
    // Prepare
    await put('in/secret.json', '[1]');
    const onlyWrite: NamedPolicy = {
      name: 'write-only',
      policy: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
          { Effect: 'Allow', Action: 'states:StartExecution', Resource: SM_ARN },
        ],
      },
    };
    const { sfn } = await emulator(
      {
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Map',
            ItemReader: reader('in/secret.json', { InputType: 'JSON' }),
            ItemProcessor: PASS_PROCESSOR,
            Catch: [{ ErrorEquals: ['States.ItemReaderFailed'], ResultPath: '$.error', Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
      { policies: [onlyWrite] },
    );

    // Act
    const run = await execute(sfn, {});

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    const error = (run.output as { error: { Error: string; Cause: string } }).error;
    expect(error.Error).toBe('States.ItemReaderFailed');
    expect(error.Cause).toContain(
      `is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::${BUCKET}/in/secret.json`,
    );
  });

  // https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html#dist-map-permissions
  it('fails the execution with States.Runtime (not catchable) when the role may not start executions of its state machine', async () => {
    // Prepare
    const noStart: NamedPolicy = {
      name: 'no-start',
      policy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
      },
    };
    const { sfn } = await emulator(
      {
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemProcessor: PASS_PROCESSOR,
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      },
      { policies: [noStart] },
    );

    // Act
    const run = await execute(sfn, { items: [1, 2] });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('States.Runtime');
    expect(run.cause).toContain(`is not authorized to perform: states:StartExecution on resource: ${SM_ARN}`);
  });
});

describe('Distributed Map: batching and concurrency', () => {
  // https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html
  it('batches items: each child gets {BatchInput, Items}, by MaxItemsPerBatch(Path) and MaxInputBytesPerBatch', async () => {
    // Prepare
    const fake = lambdas({ Batch: (payload) => (payload.Items as unknown[]).length });
    const byCount = await emulator(
      mapState({
        ItemsPath: '$.items',
        ItemSelector: { 'i.$': '$$.Map.Item.Index' },
        ItemBatcher: { MaxItemsPerBatchPath: '$.perBatch', BatchInput: { 'job.$': '$.job' } },
        ItemProcessor: lambdaProcessor('Batch'),
      }),
      { invoke: fake.invoke },
    );
    const bySize = await emulator(
      mapState({
        ItemsPath: '$.items',
        ItemBatcher: { MaxInputBytesPerBatch: 40 },
        ItemProcessor: lambdaProcessor('Batch'),
      }),
      { invoke: fake.invoke },
    );

    // Act
    const counted = await execute(byCount.sfn, { items: ['a', 'b', 'c', 'd', 'e'], perBatch: 2, job: 'j1' });
    const countedPayloads = fake.calls.splice(0).map((c) => c.payload);
    const sized = await execute(bySize.sfn, { items: ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc'] });
    const sizedPayloads = fake.calls.splice(0).map((c) => c.payload);

    // Assess
    expect(counted.output).toEqual([2, 2, 1]);
    expect(sized.output).toEqual([2, 1]);
    expect(countedPayloads).toEqual(
      expect.arrayContaining([
        { BatchInput: { job: 'j1' }, Items: [{ i: 0 }, { i: 1 }] },
        { BatchInput: { job: 'j1' }, Items: [{ i: 2 }, { i: 3 }] },
        { BatchInput: { job: 'j1' }, Items: [{ i: 4 }] },
      ]),
    );
    // {"Items":[]} is 12 bytes, each item 12 more ("aaaaaaaaaa" and a comma): two fit in 40 bytes.
    expect(sizedPayloads).toEqual(
      expect.arrayContaining([{ Items: ['aaaaaaaaaa', 'bbbbbbbbbb'] }, { Items: ['cccccccccc'] }]),
    );
    for (const payload of sizedPayloads)
      expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(40);
  });

  // https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html (MaxConcurrency)
  it('never runs more than MaxConcurrency(Path) children at once', async () => {
    // Prepare
    let running = 0;
    let peak = 0;
    const fake = lambdas({
      Slow: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
        return 'ok';
      },
    });
    const { sfn } = await emulator(
      mapState({
        ItemsPath: '$.items',
        MaxConcurrencyPath: '$.limit',
        ItemProcessor: lambdaProcessor('Slow'),
      }),
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: Array.from({ length: 12 }, (_, i) => i), limit: 3 });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(fake.calls).toHaveLength(12);
    expect(peak).toBe(3);
  });
});

describe('Distributed Map: failures', () => {
  const failOdd = () =>
    lambdas({
      Work: (payload) => {
        if ((payload.n as number) % 2 === 1) throw new LambdaError('Work.Odd', `odd ${String(payload.n)}`);
        return { doubled: (payload.n as number) * 2 };
      },
    });
  const items = (count: number) => Array.from({ length: count }, (_, n) => ({ n }));

  // https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html
  it('succeeds while failed items stay within ToleratedFailurePercentage, and writes them to FAILED_0.json', async () => {
    // Prepare: 2 of 5 items fail (40%), 40% tolerated
    const fake = failOdd();
    const { sfn } = await emulator(
      mapState({
        ItemsPath: '$.items',
        ToleratedFailurePercentage: 40,
        ItemProcessor: lambdaProcessor('Work'),
        ResultWriter: WRITER,
      }),
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: items(5) });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    const { manifest, files } = await resultFiles(run.output);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    const failed = files.FAILED as Array<Record<string, unknown>>;
    expect(failed.map((e) => [JSON.parse(e.Input as string), e.Status, e.Error])).toEqual([
      [{ n: 1 }, 'FAILED', 'Work.Odd'],
      [{ n: 3 }, 'FAILED', 'Work.Odd'],
    ]);
    expect(JSON.parse(failed[0]?.Cause as string)).toEqual({ errorType: 'Work.Odd', errorMessage: 'odd 1' });
    expect((files.SUCCEEDED as Array<{ Output: string }>).map((e) => JSON.parse(e.Output))).toEqual([
      { doubled: 0 },
      { doubled: 4 },
      { doubled: 8 },
    ]);
    const mapRun = await sfn.handle('DescribeMapRun', { mapRunArn: manifest.MapRunArn });
    expect(mapRun).toMatchObject({
      status: 'SUCCEEDED',
      toleratedFailurePercentage: 40,
      itemCounts: { succeeded: 3, failed: 2, total: 5, resultsWritten: 5, pending: 0, running: 0 },
    });
  });

  it('fails with States.ExceedToleratedFailureThreshold past ToleratedFailureCount, caught by Catch but not by States.TaskFailed', async () => {
    // Prepare: 3 of 7 items fail, 2 tolerated
    const fake = failOdd();
    const { sfn } = await emulator(
      {
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Map',
            ItemsPath: '$.items',
            ToleratedFailureCount: 2,
            ItemProcessor: lambdaProcessor('Work'),
            Catch: [
              { ErrorEquals: ['States.TaskFailed'], Next: 'WrongCatcher' },
              {
                ErrorEquals: ['States.ExceedToleratedFailureThreshold'],
                ResultPath: '$.error',
                Next: 'Caught',
              },
            ],
            End: true,
          },
          WrongCatcher: { Type: 'Fail', Error: 'Wrong' },
          Caught: { Type: 'Pass', End: true },
        },
      },
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: items(7) });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect((run.output as { error: unknown }).error).toEqual({
      Error: 'States.ExceedToleratedFailureThreshold',
      Cause: 'The specified tolerated failure threshold was exceeded',
    });
    const types = run.history.map((e) => e.type);
    expect(types).toContain('MapRunFailed');
    expect(types).toContain('MapStateFailed');
  });

  it('fails the Map Run at the first failed item when no threshold is set, aborting the others', async () => {
    // Prepare
    const fake = lambdas({
      Work: async (payload) => {
        // Item 0 fails while item 1 runs; items 2-5 wait for a free slot (MaxConcurrency 2).
        await new Promise((resolve) => setTimeout(resolve, payload.n === 0 ? 50 : 400));
        if (payload.n === 0) throw new LambdaError('Work.Broken', 'broken');
        return 'slow';
      },
    });
    const { sfn } = await emulator(
      mapState({
        ItemsPath: '$.items',
        MaxConcurrency: 2,
        ItemProcessor: lambdaProcessor('Work'),
        ResultWriter: WRITER,
      }),
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: items(6) });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('States.ExceedToleratedFailureThreshold');
    const mapRunArn = (
      (await sfn.handle('ListMapRuns', { executionArn: run.executionArn })).mapRuns as Array<{
        mapRunArn: string;
      }>
    )[0]?.mapRunArn;
    const mapRun = (await sfn.handle('DescribeMapRun', { mapRunArn })) as {
      itemCounts: Record<string, number>;
    };
    expect(mapRun).toMatchObject({ status: 'FAILED' });
    expect(mapRun.itemCounts).toMatchObject({ failed: 1, aborted: 1, pending: 4, total: 6 });
    expect(fake.calls).toHaveLength(2);
  });

  it('StopExecution aborts the Map Run and its running children', async () => {
    // Prepare: children that never answer
    const fake = lambdas({ Hang: () => new Promise(() => undefined) });
    const { sfn } = await emulator(
      mapState({ ItemsPath: '$.items', MaxConcurrency: 2, ItemProcessor: lambdaProcessor('Hang') }),
      { invoke: fake.invoke },
    );
    const started = await sfn.handle('StartExecution', {
      stateMachineArn: SM_ARN,
      name: 'stop-me',
      input: JSON.stringify({ items: items(5) }),
    });
    for (let i = 0; i < 100 && fake.calls.length < 2; i += 1) await new Promise((r) => setTimeout(r, 20));

    // Act
    await sfn.handle('StopExecution', { executionArn: started.executionArn, error: 'Stop', cause: 'enough' });
    await sfn.idle();
    const run = await described(sfn, started.executionArn as string);

    // Assess
    expect(run.status).toBe('ABORTED');
    expect(run.history.map((e) => e.type).slice(-2)).toEqual(['MapRunAborted', 'ExecutionAborted']);
    const mapRunArn = (
      (await sfn.handle('ListMapRuns', { executionArn: run.executionArn })).mapRuns as Array<{
        mapRunArn: string;
      }>
    )[0]?.mapRunArn;
    expect(await sfn.handle('DescribeMapRun', { mapRunArn })).toMatchObject({
      status: 'ABORTED',
      itemCounts: { aborted: 2, pending: 3, succeeded: 0, total: 5 },
    });
    expect(fake.calls).toHaveLength(2);
  });

  it("retries a child's Task with the child's Retry policy", async () => {
    // Prepare: every item's first two attempts fail
    const attempts = new Map<number, number>();
    const fake = lambdas({
      Flaky: (payload) => {
        const n = payload.n as number;
        attempts.set(n, (attempts.get(n) ?? 0) + 1);
        if ((attempts.get(n) ?? 0) < 3) throw new LambdaError('Flaky.NotYet', `attempt ${attempts.get(n)}`);
        return { n, attempts: attempts.get(n) };
      },
    });
    const { sfn } = await emulator(
      mapState({
        ItemsPath: '$.items',
        ItemProcessor: lambdaProcessor('Flaky', {
          Retry: [{ ErrorEquals: ['Flaky.NotYet'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 1 }],
        }),
      }),
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: items(3) });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual([
      { n: 0, attempts: 3 },
      { n: 1, attempts: 3 },
      { n: 2, attempts: 3 },
    ]);
    expect(fake.calls).toHaveLength(9);
  });

  // https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (Retry on the Map state)
  it('retries the Map state itself with a new Map Run', async () => {
    // Prepare: the first Map Run fails (item 1 fails once), the retry's succeeds
    let failures = 0;
    const fake = lambdas({
      Work: (payload) => {
        if (payload.n === 1 && failures === 0) {
          failures += 1;
          throw new LambdaError('Work.Once', 'once');
        }
        return payload.n;
      },
    });
    const { sfn } = await emulator(
      mapState({
        ItemsPath: '$.items',
        ItemProcessor: lambdaProcessor('Work'),
        Retry: [
          { ErrorEquals: ['States.ExceedToleratedFailureThreshold'], IntervalSeconds: 1, MaxAttempts: 1 },
        ],
      }),
      { invoke: fake.invoke },
    );

    // Act
    const run = await execute(sfn, { items: items(3) });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual([0, 1, 2]);
    const mapRuns = (await sfn.handle('ListMapRuns', { executionArn: run.executionArn }))
      .mapRuns as unknown[];
    expect(mapRuns).toHaveLength(2);
    expect(run.history.filter((e) => e.type === 'MapRunStarted')).toHaveLength(2);
  });
});

describe('Distributed Map: redrive', () => {
  // https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html
  // https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html
  it('RedriveExecution re-runs only the failed children (from the state they failed in) and the items never run', async () => {
    // Prepare: item 1 fails in Work; with one child at a time the Map Run stops there (items 2-5 never run)
    const broken = new Set([1]);
    const fake = lambdas({
      Before: () => ({ ready: true }),
      Prep: (payload) => ({ ...payload, prepared: true }),
      Work: (payload) => {
        if (broken.has(payload.n as number))
          throw new LambdaError('Work.Broken', `item ${String(payload.n)}`);
        return { n: payload.n, done: true };
      },
    });
    const { sfn } = await emulator(
      {
        StartAt: 'Before',
        States: {
          Before: { Type: 'Task', Resource: fnArn('Before'), ResultPath: '$.before', Next: 'Fan' },
          Fan: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 1,
            ItemProcessor: {
              ProcessorConfig: DISTRIBUTED,
              StartAt: 'Prep',
              States: {
                Prep: { Type: 'Task', Resource: fnArn('Prep'), Next: 'Work' },
                Work: { Type: 'Task', Resource: fnArn('Work'), End: true },
              },
            },
            ResultWriter: WRITER,
            End: true,
          },
        },
      },
      { invoke: fake.invoke },
    );
    const first = await execute(sfn, { items: Array.from({ length: 6 }, (_, n) => ({ n })) }, 'redrive-me');
    const firstFiles = await resultFiles(
      await (async () => {
        const runs = (await sfn.handle('ListMapRuns', { executionArn: first.executionArn }))
          .mapRuns as Array<{
          mapRunArn: string;
        }>;
        const id = runs[0]?.mapRunArn.split(':').at(-1);
        return { ResultWriterDetails: { Bucket: BUCKET, Key: `results/${id}/manifest.json` } };
      })(),
    );
    broken.clear();
    const before = fake.calls.splice(0);

    // Act
    const redriven = await sfn.handle('RedriveExecution', { executionArn: first.executionArn });
    await sfn.idle();
    const second = await described(sfn, first.executionArn);
    const notAgain = await sfn
      .handle('RedriveExecution', { executionArn: first.executionArn })
      .catch((err: unknown) => err);

    // Assess: the first attempt
    expect(first.status).toBe('FAILED');
    expect(first.error).toBe('States.ExceedToleratedFailureThreshold');
    expect(before.filter((c) => c.name === 'Work').map((c) => c.payload.n)).toEqual([0, 1]);
    expect(firstFiles.files.SUCCEEDED).toHaveLength(1);
    expect(firstFiles.files.FAILED).toHaveLength(1);
    expect(
      (firstFiles.files.PENDING as Array<{ Input: string; Status: string }>).map((e) => [
        JSON.parse(e.Input),
        e.Status,
      ]),
    ).toEqual([
      [{ n: 2 }, 'PENDING'],
      [{ n: 3 }, 'PENDING'],
      [{ n: 4 }, 'PENDING'],
      [{ n: 5 }, 'PENDING'],
    ]);
    // the redrive: Before is not run again, item 0 not at all, item 1 from Work, items 2-5 from the start
    expect(redriven.redriveDate).toEqual(expect.any(Number));
    expect(second.status).toBe('SUCCEEDED');
    expect(fake.calls.filter((c) => c.name === 'Before')).toEqual([]);
    expect(fake.calls.filter((c) => c.name === 'Prep').map((c) => c.payload.n)).toEqual([2, 3, 4, 5]);
    expect(fake.calls.filter((c) => c.name === 'Work').map((c) => c.payload.n)).toEqual([1, 2, 3, 4, 5]);
    const { manifest, files } = await resultFiles(second.output);
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    const succeeded = files.SUCCEEDED as Array<{ Output: string; RedriveCount: number; Name: string }>;
    expect(succeeded.map((e) => JSON.parse(e.Output).n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(succeeded.map((e) => e.RedriveCount)).toEqual([0, 1, 0, 0, 0, 0]);
    expect(succeeded[1]?.Name).toBe((firstFiles.files.FAILED as Array<{ Name: string }>)[0]?.Name);
    const types = second.history.map((e) => e.type);
    expect(types.filter((t) => t === 'ExecutionRedriven')).toHaveLength(1);
    expect(types.slice(types.indexOf('ExecutionRedriven'))).toEqual([
      'ExecutionRedriven',
      'MapStateEntered',
      'MapRunRedriven',
      'MapRunSucceeded',
      'MapStateExited',
      'ExecutionSucceeded',
    ]);
    expect(await sfn.handle('DescribeMapRun', { mapRunArn: manifest.MapRunArn })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 1,
      itemCounts: { succeeded: 6, total: 6 },
    });
    expect(notAgain).toBeInstanceOf(SfnServiceError);
    expect((notAgain as SfnServiceError).name).toBe('ExecutionNotRedrivable');
  });
});

describe('Distributed Map: restarts, nesting, scale', () => {
  it('resumes a Map Run after the process is killed (kill -9): ended children are not run again, every item is reported once', async () => {
    // Prepare: a process whose items 0-3 end at once and whose later items hang, killed once 0-3 are on disk
    const dataDir = await mkdtemp(path.join(dir, 'crash-'));
    const definition = mapState({
      ItemsPath: '$.items',
      MaxConcurrency: 3,
      ItemProcessor: lambdaProcessor('Work'),
    });
    const script = `
      const { LocalStepFunctions } = await import(process.env.EMULATOR_URL);
      const sfn = new LocalStepFunctions({
        dataDir: process.env.DATA_DIR,
        invokeLambda: async (_name, payload) => {
          if (payload.n < 4) return { n: payload.n, by: 'first process' };
          process.stdout.write('HANG ' + payload.n + '\\n');
          return new Promise(() => {});
        },
      });
      sfn.registerStateMachine(process.env.SM_ARN, JSON.parse(process.env.DEFINITION));
      await sfn.handle('StartExecution', { stateMachineArn: process.env.SM_ARN, name: 'crash-me', input: process.env.INPUT });
      setInterval(() => {}, 60_000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        EMULATOR_URL: new URL('../../lib/local/sfn/index.ts', import.meta.url).href,
        DATA_DIR: dataDir,
        SM_ARN,
        DEFINITION: JSON.stringify(definition),
        INPUT: JSON.stringify({ items: Array.from({ length: 10 }, (_, n) => ({ n })) }),
      },
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const childrenLog = async () => {
      const runs = await readdir(path.join(dataDir, 'map-runs')).catch(() => []);
      const text = runs[0]
        ? await readFile(path.join(dataDir, 'map-runs', runs[0], 'children.jsonl'), 'utf8').catch(() => '')
        : '';
      return text.split('\n').filter(Boolean);
    };
    for (let i = 0; i < 200 && (await childrenLog()).length < 4; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const endedBeforeKill = (await childrenLog()).map(
      (line) => (JSON.parse(line) as { index: number }).index,
    );
    const fake = lambdas({ Work: (payload) => ({ n: payload.n, by: 'second process' }) });
    const { sfn } = await emulator(definition, { invoke: fake.invoke, dataDir });

    // Act
    const resumed = await sfn.resumeInterrupted();
    await sfn.idle();
    const run = await described(sfn, resumed[0] as string);

    // Assess
    expect(endedBeforeKill.sort()).toEqual([0, 1, 2, 3]);
    expect(run.status).toBe('SUCCEEDED');
    expect(fake.calls.map((c) => c.payload.n).sort((a, b) => Number(a) - Number(b))).toEqual([
      4, 5, 6, 7, 8, 9,
    ]);
    expect(run.output).toEqual(
      Array.from({ length: 10 }, (_, n) => ({ n, by: n < 4 ? 'first process' : 'second process' })),
    );
    const mapRuns = (await sfn.handle('ListMapRuns', { executionArn: run.executionArn })).mapRuns as Array<{
      mapRunArn: string;
    }>;
    expect(mapRuns).toHaveLength(1);
    expect(await sfn.handle('DescribeMapRun', { mapRunArn: mapRuns[0]?.mapRunArn })).toMatchObject({
      status: 'SUCCEEDED',
      itemCounts: { succeeded: 10, total: 10, failed: 0 },
    });
  });

  it('runs a Distributed Map in each iteration of an inline Map (one Map Run each)', async () => {
    // Prepare
    const { sfn } = await emulator({
      StartAt: 'Steps',
      States: {
        Steps: {
          Type: 'Map',
          ItemsPath: '$.steps',
          ItemProcessor: {
            ProcessorConfig: { Mode: 'INLINE' },
            StartAt: 'Fan',
            States: {
              Fan: {
                Type: 'Map',
                ItemsPath: '$.items',
                ItemSelector: { 'step.$': '$.id', 'index.$': '$$.Map.Item.Index' },
                ItemProcessor: PASS_PROCESSOR,
                End: true,
              },
            },
          },
          End: true,
        },
      },
    });

    // Act
    const run = await execute(sfn, {
      steps: [
        { id: 'a', items: [1, 2] },
        { id: 'b', items: [1] },
        { id: 'c', items: [] },
      ],
    });

    // Assess
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output).toEqual([
      [
        { step: 'a', index: 0 },
        { step: 'a', index: 1 },
      ],
      [{ step: 'b', index: 0 }],
      [],
    ]);
    expect((await sfn.handle('ListMapRuns', { executionArn: run.executionArn })).mapRuns).toHaveLength(3);
  });

  it("keeps the parent's history the same size whatever the number of items", async () => {
    // Prepare
    const { sfn } = await emulator(
      mapState({ ItemsPath: '$.items', ItemProcessor: PASS_PROCESSOR, ResultWriter: WRITER }),
    );

    // Act
    const small = await execute(sfn, { items: [1, 2] }, 'small');
    const large = await execute(sfn, { items: Array.from({ length: 500 }, (_, i) => i) }, 'large');

    // Assess
    expect(large.status).toBe('SUCCEEDED');
    expect(large.history.map((e) => e.type)).toEqual(small.history.map((e) => e.type));
    expect((await resultFiles(large.output)).files.SUCCEEDED).toHaveLength(500);
  });

  it('runs 1,000 items of a Lambda child, each reported once in the ResultWriter files', async () => {
    // Prepare
    const keys = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}` }));
    await put('in/thousand.json', JSON.stringify(keys));
    const fake = lambdas({ Work: (payload) => ({ seen: payload.key }) });
    const { sfn } = await emulator(
      mapState({
        ItemReader: reader('in/thousand.json', { InputType: 'JSON' }),
        ItemProcessor: lambdaProcessor('Work'),
        ResultWriter: WRITER,
      }),
      { invoke: fake.invoke },
    );
    const started = performance.now();

    // Act
    const run = await execute(sfn, {});

    // Assess
    const elapsed = performance.now() - started;
    console.log(
      `[distributed-map] 1000 Lambda items: ${Math.round(elapsed)} ms, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`,
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(fake.calls).toHaveLength(1000);
    const succeeded = (await resultFiles(run.output)).files.SUCCEEDED as Array<{ Output: string }>;
    const seen = succeeded.map((e) => (JSON.parse(e.Output) as { seen: string }).seen);
    expect(new Set(seen).size).toBe(1000);
    expect(seen).toEqual(keys.map((k) => k.key));
  });
});

describe('Distributed Map: no timeout of its own', () => {
  // https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html lists no
  // TimeoutSeconds for a Map state: a Map Run lasts as long as its children take.
  it("gives the Map state's stand-in Task the longest timer, not the library's 60 s Task default", () => {
    // Prepare
    const source = mapState({ ItemsPath: '$.items', ItemProcessor: PASS_PROCESSOR });

    // Act
    const { definition } = prepareDefinition(source);

    // Assess
    const fan = (definition.States as Record<string, Record<string, unknown>>).Fan;
    expect(fan?.Type).toBe('Task');
    expect(fan?.TimeoutSeconds).toBe(MAX_TIMER_SECONDS);
  });
});

describe('Distributed Map: definitions the local engine refuses', () => {
  it('refuses what it cannot run faithfully, naming the field', async () => {
    // Prepare
    const sfn = new LocalStepFunctions({
      dataDir: await mkdtemp(path.join(dir, 'refuse-')),
      invokeLambda: async () => null,
    });
    cleanups.push(() => sfn.close());
    const register = (fields: Record<string, unknown>) => () =>
      sfn.registerStateMachine(SM_ARN, mapState(fields));

    // Act / Assess
    expect(
      register({
        ItemsPath: '$.items',
        ItemProcessor: PASS_PROCESSOR,
        ResultWriter: { ...WRITER, WriterConfig: { OutputType: 'JSONL', Transformation: 'NONE' } },
      }),
    ).toThrow(/WriterConfig/);
    expect(
      register({
        ItemReader: reader('x.csv', { InputType: 'MANIFEST' }),
        ItemProcessor: PASS_PROCESSOR,
      }),
    ).toThrow(/InputType "MANIFEST"/);
    expect(
      register({ ItemsPath: '$.items', ItemBatcher: { BatchInput: {} }, ItemProcessor: PASS_PROCESSOR }),
    ).toThrow(/MaxItemsPerBatch/);
    expect(
      register({
        ItemsPath: '$.items',
        ItemProcessor: {
          ProcessorConfig: DISTRIBUTED,
          StartAt: 'Inner',
          States: { Inner: { Type: 'Map', ItemsPath: '$', ItemProcessor: PASS_PROCESSOR, End: true } },
        },
      }),
    ).toThrow(/inside a Distributed Map/);
    expect(
      register({
        ItemsPath: '$.items',
        Label: 'x',
        ItemProcessor: { ...PASS_PROCESSOR, ProcessorConfig: { Mode: 'INLINE' } },
      }),
    ).toThrow(/Label is only valid on a Map state in DISTRIBUTED mode/);
  });
});
