/**
 * The local Step Functions' Distributed Map (lib/local/sfn/distributed-map.ts), driven with small
 * synthetic state machines on the real local S3 emulator behind local IAM: the engine's S3 calls
 * sign as the state machine's role and are checked against its policy, as in local mode.
 * Each case names the AWS page whose behaviour it checks.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, LOCAL_CREDENTIALS, startEmulators } from '../../lib/local/emulators.js';
import { LocalIam, type NamedPolicy } from '../../lib/local/iam/index.js';
import { type LocalLambdaInvoker, LocalStepFunctions } from '../../lib/local/sfn/index.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const BUCKET = 'dmap-data';
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Fan`;
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
