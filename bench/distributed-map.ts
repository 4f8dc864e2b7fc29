/**
 * Distributed Map at scale on the local Step Functions (lib/local/sfn/distributed-map.ts): one
 * Map Run of N items read from the local S3 (a JSON array), each a child workflow of a Pass state
 * or of a Lambda Task (an in-process function, not a worker-thread sandbox), results written by a
 * ResultWriter to S3, with local IAM checking the engine's S3 calls. Prints wall time, items per
 * second and the process's peak RSS (sampled every 20 ms), one fresh process per case so each
 * peak is its own; and, from a second run of each case with `--heap` (forced garbage collections
 * every 200 ms, so slower), the largest live heap after a collection: what the Map Run really
 * holds, as RSS also counts garbage V8 has not collected yet. Nothing here is asserted by a test.
 *
 *   npm exec -- tsx bench/distributed-map.ts                      # 1,000 and 10,000 items, Pass and Lambda
 *   npm exec -- tsx bench/distributed-map.ts --items 50000 --child lambda
 *   npm exec -- node --expose-gc --import tsx bench/distributed-map.ts --items 20000 --heap
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startEmulators } from '../lib/local/emulators.js';
import { LocalIam } from '../lib/local/iam/index.js';
import { LocalStepFunctions } from '../lib/local/sfn/index.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Bench`;
const BUCKET = 'bench';

const { values } = parseArgs({
  options: {
    items: { type: 'string' },
    child: { type: 'string', default: 'pass' },
    heap: { type: 'boolean', default: false },
  },
});

interface Figure {
  items: number;
  child: string;
  ms: number;
  itemsPerSecond: number;
  rssBeforeMiB: number;
  peakRssMiB: number;
  status: string;
  resultsWritten: number;
  /** With --heap: the largest heapUsed right after a forced collection. */
  liveHeapMiB?: number;
}

async function runOne(items: number, child: string, heap: boolean): Promise<Figure> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baton-dmap-bench-'));
  const iam = new LocalIam({ region: REGION, account: ACCOUNT, admin: LOCAL_CREDENTIALS });
  const emulators = await startEmulators({ dataDir: path.join(dir, 'emulators'), iam });
  const principal = iam.principalOf(
    {
      logicalId: 'BenchRole',
      roleName: 'BenchRole',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/BenchRole`,
      policies: [
        {
          name: 'bench',
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['s3:GetObject', 's3:PutObject'],
                Resource: `arn:aws:s3:::${BUCKET}/*`,
              },
              { Effect: 'Allow', Action: 'states:StartExecution', Resource: SM_ARN },
            ],
          },
        },
      ],
      unknownManagedPolicies: [],
    },
    'Bench',
  );
  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new S3Client({
      region: REGION,
      endpoint: emulators.s3,
      credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  const admin = client(LOCAL_CREDENTIALS);
  const s3 = client(iam.issueCredentials(principal));
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await admin.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: 'items.json',
      Body: JSON.stringify(Array.from({ length: items }, (_, i) => ({ id: `item-${i}`, n: i }))),
    }),
  );
  const sfn = new LocalStepFunctions({
    dataDir: path.join(dir, 'sfn'),
    invokeLambda: async (_name, payload) => ({ ok: true, echo: payload }),
    s3,
    authorizeEngineCall: (action, resource) => iam.check(principal, [{ action, resource }]),
  });
  const work =
    child === 'lambda'
      ? { Type: 'Task', Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:Work`, End: true }
      : { Type: 'Pass', End: true };
  sfn.registerStateMachine(SM_ARN, {
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { Bucket: BUCKET, Key: 'items.json' },
        },
        ItemSelector: { 'index.$': '$$.Map.Item.Index', 'item.$': '$$.Map.Item.Value' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Work',
          States: { Work: work },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: BUCKET, Prefix: 'out' },
        },
        End: true,
      },
    },
  });

  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const gc = (globalThis as { gc?: () => void }).gc;
  let liveHeap = 0;
  const collector =
    heap && gc
      ? setInterval(() => {
          gc();
          liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
        }, 200)
      : undefined;
  const started = performance.now();
  const { executionArn } = await sfn.handle('StartExecution', { stateMachineArn: SM_ARN, input: '{}' });
  await sfn.idle();
  const ms = performance.now() - started;
  clearInterval(sampler);
  clearInterval(collector);
  peak = Math.max(peak, process.memoryUsage().rss);

  const described = await sfn.handle('DescribeExecution', { executionArn });
  const output = JSON.parse(String(described.output ?? 'null')) as {
    ResultWriterDetails?: { Key: string };
  } | null;
  let resultsWritten = 0;
  if (output?.ResultWriterDetails) {
    const manifest = JSON.parse(
      (await (
        await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: output.ResultWriterDetails.Key }))
      ).Body?.transformToString()) ?? '{}',
    ) as { MapRunArn: string };
    const mapRun = await sfn.handle('DescribeMapRun', { mapRunArn: manifest.MapRunArn });
    resultsWritten = (mapRun.itemCounts as { resultsWritten: number }).resultsWritten;
  }
  await sfn.close();
  admin.destroy();
  s3.destroy();
  await emulators.close();
  await rm(dir, { recursive: true, force: true });
  const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
  return {
    items,
    child,
    ms: Math.round(ms),
    itemsPerSecond: Math.round((items / ms) * 1000),
    rssBeforeMiB: mib(rssBefore),
    peakRssMiB: mib(peak),
    status: String(described.status),
    resultsWritten,
    ...(collector ? { liveHeapMiB: mib(liveHeap) } : {}),
  };
}

if (values.items) {
  const figure = await runOne(Number(values.items), values.child ?? 'pass', values.heap ?? false);
  process.stdout.write(`${JSON.stringify(figure)}\n`);
} else {
  /** One case in a fresh process (node flags first, then this script's options). */
  const runCase = (nodeFlags: string[], args: string[]): Figure => {
    const out = spawnSync(process.execPath, [...nodeFlags, import.meta.filename, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Figure;
  };
  const rows: Figure[] = [];
  for (const items of [1000, 10_000]) {
    for (const child of ['pass', 'lambda']) {
      const args = ['--items', String(items), '--child', child];
      const timed = runCase(['--import', 'tsx'], args);
      const heap = runCase(['--expose-gc', '--import', 'tsx'], [...args, '--heap']);
      rows.push({ ...timed, ...(heap.liveHeapMiB !== undefined ? { liveHeapMiB: heap.liveHeapMiB } : {}) });
    }
  }
  console.table(rows);
}
