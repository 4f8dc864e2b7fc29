/**
 * A fan-out step at scale through the local runtime (`npm run bench` runs it; alone:
 * `npm exec -- tsx bench/fanout.ts [--items 10000]`): a `rows` step writes a CSV of N rows, and a
 * fan-out step runs a no-op agent (`picky`, which answers at once) once per row, as the
 * synthesized Distributed Map. Prints and returns wall time (the step's StepStarted to its
 * StepSucceeded, from the trail), items per second, peak RSS of the process during the run, and
 * what the same run costs in AWS:
 *
 *   transitions      the parent's, counted from its execution history (StateEntered events),
 *                    plus, from the synthesized definition, one per child execution the
 *                    Distributed Map starts (AWS bills each start as a transition) and the states
 *                    of the child workflow's success path per child (Standard children)
 *   Lambda requests  the parent's Lambda states (measured), per child the Lambda states of its
 *                    success path (the item runner), per item one agent invocation (the item
 *                    runner's code)
 *   DynamoDB, S3     every call the functions made, as local IAM counted them
 * Lambda duration (GB-seconds) is not priced: it is the agent's own time.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type LocalRuntime, startLocalRuntime } from '../lib/local/runtime.js';
import { defaultLocalNames, resolveIntrinsics, resourcesOfType } from '../lib/local/template.js';
import { STATE } from '../lib/workflow/names.js';

/** us-east-1 list prices (https://aws.amazon.com/<service>/pricing/). */
export const FANOUT_PRICES = {
  sfnTransition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1e6,
  ddbWrite: 0.625 / 1e6,
  ddbRead: 0.125 / 1e6,
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
};

type Asl = { StartAt: string; States: Record<string, Record<string, unknown>> };

/** The states of a workflow's success path, from StartAt along Next (Choice: its first rule). */
function successPath(asl: Asl): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let name: string | undefined = asl.StartAt;
  while (name && out.length < 100) {
    const st = asl.States[name] as Record<string, unknown>;
    out.push(st);
    if (st.End === true || st.Type === 'Succeed' || st.Type === 'Fail') break;
    name = (st.Next as string | undefined) ?? (st.Choices as { Next: string }[] | undefined)?.[0]?.Next;
  }
  return out;
}

const isLambda = (st: Record<string, unknown>) =>
  st.Type === 'Task' && String(st.Resource).includes(':lambda:invoke');

/** The child workflow of the fan-out step's Distributed Map, from the runtime's template. */
function childWorkflow(rt: LocalRuntime): Asl {
  const [, sm] = resourcesOfType(rt.template, 'AWS::StepFunctions::StateMachine')[0] ?? [];
  const asl = JSON.parse(
    String(
      resolveIntrinsics(
        sm?.Properties?.DefinitionString,
        rt.template,
        defaultLocalNames((n) => n),
      ),
    ),
  ) as Asl;
  const iteration = (asl.States[STATE.runSteps] as { ItemProcessor: Asl }).ItemProcessor;
  return (iteration.States[STATE.runItems] as { ItemProcessor: Asl }).ItemProcessor;
}

export interface FanOutFigures {
  items: number;
  itemsPerBatch: number;
  maxConcurrency: number;
  status: string;
  /** The task's error when it did not succeed. */
  error?: unknown;
  /** When it did not succeed: the items that had succeeded by the last progress sample, and since the step started. */
  doneBeforeEnd?: { items: number; seconds: number };
  wallMs: number;
  itemsPerSecond: number;
  peakRssMiB: number;
  aws: {
    parentTransitions: number;
    childExecutions: number;
    childTransitions: number;
    transitions: number;
    lambdaRequests: number;
    dynamodbWrites: number;
    dynamodbReads: number;
    s3Puts: number;
    s3Gets: number;
    usd: number;
    usdPerThousandItems: number;
  };
  /** Measured locally, to set beside the computed counts. */
  local: { lambdaInvocations: number };
}

// biome-ignore lint/suspicious/noExplicitAny: the bench reads loosely typed JSON responses
type Loose = Record<string, any>;

export async function fanOutBench(
  rt: LocalRuntime,
  opts: { items: number; maxConcurrency?: number; itemsPerBatch?: number; apiKey: string },
): Promise<FanOutFigures> {
  // One retry of a request the connection dropped (a kept-alive socket the server closed while
  // this process was busy elsewhere, e.g. timing bundle imports): safe, a POST carries an
  // Idempotency-Key.
  const api = async (method: string, path: string, body?: unknown): Promise<Loose> => {
    const key = `bench-${randomUUID()}`;
    const send = () =>
      fetch(`${rt.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${opts.apiKey}`,
          'content-type': 'application/json',
          ...(method === 'POST' ? { 'idempotency-key': key } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
    const res = await send().catch(send);
    return (await res.json()) as Loose;
  };
  const maxConcurrency = opts.maxConcurrency ?? 100;
  const itemsPerBatch = opts.itemsPerBatch ?? 1;
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 200);
  const calls0 = new Map(rt.iam.callCountsByCaller);
  const inv0 = [...rt.functions.values()].reduce((n, f) => n + f.invocations, 0);
  const submitted = await api('POST', '/tasks', {
    goal: `each of ${opts.items} rows`,
    plan: {
      steps: [
        { id: 'rows', agent: 'rows', input: { count: opts.items } },
        {
          id: 'each',
          agent: 'picky',
          forEach: { items: 'steps.rows.artifacts.rows.csv', maxConcurrency, itemsPerBatch },
        },
      ],
    },
  });
  const taskId = String(submitted.taskId);
  let status = 'QUEUED';
  // The progress counts as GET /tasks/{id} shows them, sampled: what a run that failed got done.
  let progress: { at: number; done: number } | undefined;
  let polls = 0;
  while (!['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'].includes(status)) {
    await new Promise((r) => setTimeout(r, 500));
    status = String((await api('GET', `/tasks/${taskId}/status`)).status);
    if (++polls % 4 === 0 && status === 'RUNNING') {
      const fan = (await api('GET', `/tasks/${taskId}`)).plan?.steps?.find(
        (x: Loose) => x.id === 'each',
      )?.fanOut;
      if (fan && fan.succeeded > (progress?.done ?? 0)) progress = { at: Date.now(), done: fan.succeeded };
    }
  }
  await rt.idle();
  clearInterval(timer);
  const invocations = [...rt.functions.values()].reduce((n, f) => n + f.invocations, 0) - inv0;
  const calls = new Map<string, number>();
  for (const [k, v] of rt.iam.callCountsByCaller) {
    const n = v - (calls0.get(k) ?? 0);
    const action = k.slice(k.lastIndexOf(' ') + 1);
    if (n > 0) calls.set(action, (calls.get(action) ?? 0) + n);
  }

  // the trail, page by page: the step's own start and end, and the execution's ARN
  const trail: Loose[] = [];
  for (let after: number | undefined = 0; after !== undefined; ) {
    const page = await api('GET', `/tasks/${taskId}/events?limit=1000&after=${after}`);
    trail.push(...page.events);
    after = page.next;
  }
  const at = (type: string) =>
    Date.parse(trail.find((e) => e.type === type && e.stepId === 'each')?.at ?? '');
  const wallMs = at('StepSucceeded') - at('StepStarted');

  // the parent's transitions and Lambda states, from its history
  let parentTransitions = 0;
  let parentLambdas = 0;
  const arn = String(trail.find((e) => e.type === 'ExecutionStarted')?.data.executionArn);
  for (let token: string | undefined, first = true; first || token; first = false) {
    const page = (await rt.stepFunctions.handle('GetExecutionHistory', {
      executionArn: arn,
      maxResults: 1000,
      ...(token ? { nextToken: token } : {}),
    })) as { events: { type: string; stateEnteredEventDetails?: { name?: string } }[]; nextToken?: string };
    parentTransitions += page.events.filter((e) => e.type.endsWith('StateEntered')).length;
    // every parent Task state is a Lambda invocation; RunAgent's step runner invokes its agent too
    const tasks = page.events.filter((e) => e.type === 'TaskStateEntered');
    parentLambdas +=
      tasks.length + tasks.filter((e) => e.stateEnteredEventDetails?.name === STATE.runAgent).length;
    token = page.nextToken;
  }
  // the children's, from the synthesized child workflow
  const path = successPath(childWorkflow(rt));
  const childExecutions = Math.ceil(opts.items / itemsPerBatch);
  const childTransitions = childExecutions * (1 + path.length);
  const lambdaRequests = parentLambdas + childExecutions * path.filter(isLambda).length + opts.items;
  const sum = (pred: (k: string) => boolean) =>
    [...calls].filter(([k]) => pred(k)).reduce((n, [, v]) => n + v, 0);
  const dynamodbWrites = sum((k) =>
    ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'].includes(k),
  );
  const dynamodbReads = sum((k) =>
    ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'].includes(k),
  );
  const s3Puts = sum((k) => k === 's3:PutObject' || k === 's3:ListBucket');
  const s3Gets = sum((k) => k === 's3:GetObject');
  const transitions = parentTransitions + childTransitions;
  const usd =
    transitions * FANOUT_PRICES.sfnTransition +
    lambdaRequests * FANOUT_PRICES.lambdaRequest +
    dynamodbWrites * FANOUT_PRICES.ddbWrite +
    dynamodbReads * FANOUT_PRICES.ddbRead +
    s3Puts * FANOUT_PRICES.s3Put +
    s3Gets * FANOUT_PRICES.s3Get;
  return {
    items: opts.items,
    itemsPerBatch,
    maxConcurrency,
    status,
    ...(status !== 'SUCCEEDED'
      ? {
          error: (trail.find((e) => e.type === 'TaskFailed')?.data as Loose | undefined)?.error,
          ...(progress
            ? { doneBeforeEnd: { items: progress.done, seconds: (progress.at - at('StepStarted')) / 1000 } }
            : {}),
        }
      : {}),
    wallMs,
    itemsPerSecond: opts.items / (wallMs / 1000),
    peakRssMiB: peak / 1024 / 1024,
    aws: {
      parentTransitions,
      childExecutions,
      childTransitions,
      transitions,
      lambdaRequests,
      dynamodbWrites,
      dynamodbReads,
      s3Puts,
      s3Gets,
      usd,
      usdPerThousandItems: (usd / opts.items) * 1000,
    },
    local: { lambdaInvocations: invocations },
  };
}

/** The figures as the bench table's rows. */
export function fanOutRows(r: FanOutFigures): [string, string][] {
  const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
  return [
    [
      `fan-out of ${r.items} no-op items (${r.maxConcurrency} children at a time, ${r.itemsPerBatch} per child): wall time, items/s`,
      `${f(r.wallMs / 1000)} s, ${f(r.itemsPerSecond)} items/s (${r.status})`,
    ],
    ...(r.doneBeforeEnd
      ? ([
          [
            `  ended ${r.status} (${JSON.stringify(r.error)}); succeeded before the end`,
            `${r.doneBeforeEnd.items} items in ${f(r.doneBeforeEnd.seconds)} s, ${f(r.doneBeforeEnd.items / r.doneBeforeEnd.seconds)} items/s`,
          ],
        ] as [string, string][])
      : []),
    ['  peak RSS during the fan-out', `${f(r.peakRssMiB, 0)} MiB`],
    [
      '  in AWS: transitions (parent + child starts and states)',
      `${r.aws.transitions} (${r.aws.parentTransitions} + ${r.aws.childTransitions} for ${r.aws.childExecutions} children)`,
    ],
    [
      '  in AWS: Lambda requests, DynamoDB writes / reads, S3 PUTs / GETs',
      `${r.aws.lambdaRequests} (${r.local.lambdaInvocations} locally), ${r.aws.dynamodbWrites} / ${r.aws.dynamodbReads}, ${r.aws.s3Puts} / ${r.aws.s3Gets}`,
    ],
    [
      '  in AWS: cost of the run (requests, no Lambda duration)',
      `$${r.aws.usd.toFixed(4)} ($${r.aws.usdPerThousandItems.toFixed(4)} per 1,000 items)`,
    ],
  ];
}

// alone: npm exec -- tsx bench/fanout.ts [--items N]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { items: { type: 'string', default: '10000' }, batch: { type: 'string', default: '1' } },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-fanout-'));
  const rt = await startLocalRuntime({
    dataDir,
    port: 0,
    apiKey: 'bench',
    configPath: resolve(import.meta.dirname, '../test/fixtures/baton.config.json'),
    log: () => {},
    functionLog: () => {},
  });
  try {
    const figures = await fanOutBench(rt, {
      items: Number(values.items),
      itemsPerBatch: Number(values.batch),
      apiKey: 'bench',
    });
    for (const [k, v] of fanOutRows(figures)) console.log(`  ${k.padEnd(70)}  ${v}`);
    const out = resolve(
      import.meta.dirname,
      'results',
      `${new Date().toISOString().slice(0, 10)}-fanout-${figures.items}x${figures.itemsPerBatch}.json`,
    );
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, ...figures, prices: FANOUT_PRICES }, null, 2)}\n`,
    );
    console.log(`  written: ${out}`);
  } finally {
    await rt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
