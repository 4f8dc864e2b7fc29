/**
 * Benchmarks that print figures (never asserted in tests): `npm run bench`. One local runtime
 * (the shipped bundles, per-function sandboxes, IAM checks on) and, in the same run, the bare
 * aws-local-stepfunctions engine as the floor. Prints a table and writes
 * `bench/results/<date>.json`.
 *
 * Every duration is taken from the audit trail's own timestamps (`at` of the events), not from
 * the moment a poller noticed: the bench polls `GET /tasks/{id}/status` (one read) every 250 ms
 * only to know when to stop, so its polling hardly loads what it measures.
 *
 *  1. orchestration overhead per step: a chain of 40 no-op steps (the sleep fixture, 0 ms: no
 *     artifacts), first StepStarted to last StepSucceeded, divided by 40, run twice (the first
 *     after the warm-up, then the figure); next to the bare engine's time per Task state; the
 *     same chain of echo steps (two artifacts each) beside it; the CPU each took, by thread, and
 *     the CPU of the runtime idle for 5 s before them (its pollers and timers);
 *  2. critical-path scheduling: makespan / critical path of a skewed DAG (a 3 s branch beside a
 *     chain of 400 ms steps) and of a diamond ladder, next to wave-by-wave scheduling;
 *  3. a burst of 100 one-step tasks submitted at once, twice (the first starts every function's
 *     sandbox pool; the second, all warm, is the figure): throughput, p50/p99 task latency, the
 *     CPU per task and the throughput that CPU alone allows on this machine;
 *  4. per step and per task: state transitions (StateEntered events of the execution history),
 *     Lambda invocations, DynamoDB reads/writes, S3 GETs/PUTs, SQS calls (local IAM counts every
 *     call a function makes), priced with published us-east-1 prices;
 *  4b. the floor of local mode's checks (bench/floor.ts): one call from a sandbox and one
 *     invocation with nothing of Baton's around them, and what a step's and a one-step task's
 *     calls and invocations would cost at that floor (the throughput its CPU alone allows);
 *  5. bundle sizes and module-init time of each bundle (a fresh Node process imports it: the
 *     cold-start proxy); peak RSS of the process during the run;
 *  6. a fan-out step of 10,000 items of a no-op agent (bench/fanout.ts): wall time, items/s, peak
 *     RSS, and the AWS cost of the same run from the synthesized definition.
 * `BENCH_ONLY=chain` runs 0 and 1 only and prints the overhead per step (no JSON written).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RunOptions, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { criticalPath, validatePlan } from '../lambdas/core/plan.js';
import type { PlanSpec } from '../lambdas/core/schemas.js';
import { DEFAULT_MAX_SANDBOXES } from '../lib/local/functions.js';
import { startLocalRuntime } from '../lib/local/runtime.js';
import { measureBundles } from './bundles.js';
import { fanOutBench, fanOutRows } from './fanout.js';
import { measureFloor, median } from './floor.js';

const config = resolve(import.meta.dirname, '../test/fixtures/baton.config.json');
const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
let peakRss = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 200);
rssTimer.unref();

const rt = await startLocalRuntime({ dataDir, port: 0, apiKey: 'bench', configPath: config, log: () => {} });

type Json = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: the bench reads loosely typed JSON responses
async function api(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${rt.url}${path}`, {
    method,
    headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return (await res.json()) as Record<string, any>;
}

interface Ev {
  type: string;
  stepId?: string;
  at: string;
  data: Json;
}
const ENDED = ['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'];

async function waitEnded(taskId: string): Promise<string> {
  for (;;) {
    // The cheap status read (one item), so the polling does not load what is measured.
    const t = await api('GET', `/tasks/${taskId}/status`);
    if (ENDED.includes(t.status)) return t.status as string;
    await new Promise((r) => setTimeout(r, 250));
  }
}
async function events(taskId: string): Promise<Ev[]> {
  const out: Ev[] = [];
  let after: number | undefined;
  do {
    const page = await api('GET', `/tasks/${taskId}/events?limit=1000${after ? `&after=${after}` : ''}`);
    out.push(...(page.events as Ev[]));
    after = page.next as number | undefined;
  } while (after);
  return out;
}
const ms = (e: Ev | undefined) => (e ? Date.parse(e.at) : Number.NaN);

/**
 * CPU time so far by thread, ms, each from its own thread clock (not wall time, so a busy machine
 * hardly moves it): the runtime's main thread (the engine, the IAM fronts, s3rver, local-aws-sqs,
 * the API's HTTP server and this bench's own client), the DynamoDB worker, each function's
 * sandboxes (their invocations), and the whole process (which adds libuv's and V8's helper threads:
 * LevelDB's and the file system's work, garbage collection and compilation in the background).
 */
async function cpuNow() {
  const main = process.threadCpuUsage();
  const all = process.cpuUsage();
  const { dynamodb } = await rt.emulators.threadCpuMs();
  return {
    processMs: (all.user + all.system) / 1000,
    mainThreadMs: (main.user + main.system) / 1000,
    dynamodbMs: dynamodb,
    byFunction: new Map([...rt.functions.values()].map((f) => [f.logicalId, f.cpuMs])),
  };
}
type CpuSnapshot = Awaited<ReturnType<typeof cpuNow>>;

/** CPU used between two snapshots, `per` step or task, ms. */
function cpuPer(from: CpuSnapshot, to: CpuSnapshot, per: number) {
  const byFunction: Record<string, number> = {};
  let sandboxes = 0;
  for (const [fn, ms] of to.byFunction) {
    const used = ms - (from.byFunction.get(fn) ?? 0);
    sandboxes += used;
    if (used > 0) byFunction[fn] = used / per;
  }
  const all = to.processMs - from.processMs;
  const main = to.mainThreadMs - from.mainThreadMs;
  const dynamodb = to.dynamodbMs - from.dynamodbMs;
  return {
    allMs: all / per,
    mainThreadMs: main / per,
    dynamodbWorkerMs: dynamodb / per,
    sandboxesMs: sandboxes / per,
    otherThreadsMs: (all - main - dynamodb - sandboxes) / per,
    byFunction: Object.fromEntries(Object.entries(byFunction).sort((a, b) => b[1] - a[1])),
  };
}

/** What the functions did while `work` ran: calls by action, invocations, CPU, and the work's result. */
async function metered<T>(work: () => Promise<T>): Promise<{
  result: T;
  calls: Map<string, number>;
  byCaller: Map<string, number>;
  invocations: number;
  cpu: (per: number) => ReturnType<typeof cpuPer>;
}> {
  const by0 = new Map(rt.iam.callCountsByCaller);
  const inv0 = [...rt.functions.values()].reduce((n, f) => n + f.invocations, 0);
  const cpu0 = await cpuNow();
  const result = await work();
  await rt.idle();
  const cpu1 = await cpuNow();
  const invocations = [...rt.functions.values()].reduce((n, f) => n + f.invocations, 0) - inv0;
  const byCaller = new Map<string, number>();
  const calls = new Map<string, number>(); // the same, by action alone
  for (const [k, v] of rt.iam.callCountsByCaller) {
    const n = v - (by0.get(k) ?? 0);
    if (n <= 0) continue;
    byCaller.set(k, n);
    const action = k.slice(k.lastIndexOf(' ') + 1);
    calls.set(action, (calls.get(action) ?? 0) + n);
  }
  return { result, calls, byCaller, invocations, cpu: (per) => cpuPer(cpu0, cpu1, per) };
}

async function transitionsOf(taskId: string): Promise<number> {
  const evs = await events(taskId);
  const arns = evs.filter((e) => e.type === 'ExecutionStarted').map((e) => String(e.data.executionArn));
  let n = 0;
  for (const executionArn of arns) {
    let nextToken: string | undefined;
    do {
      const page = (await rt.stepFunctions.handle('GetExecutionHistory', {
        executionArn,
        maxResults: 1000,
        ...(nextToken ? { nextToken } : {}),
      })) as { events: { type: string }[]; nextToken?: string };
      n += page.events.filter((e) => e.type.endsWith('StateEntered')).length;
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return n;
}

// ---------------------------------------------------------------- 0. the bare engine (the floor)
async function bareEngine(states: number): Promise<number> {
  const definition: Json = { StartAt: 's0', States: {} };
  type Handlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
  const handlers: Handlers = {};
  for (let i = 0; i < states; i++) {
    (definition.States as Json)[`s${i}`] = {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:123456789012:function:noop',
      ...(i < states - 1 ? { Next: `s${i + 1}` } : { End: true }),
    };
    handlers[`s${i}`] = async (input) => input;
  }
  const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
    validationOptions: { noValidate: true },
  });
  await machine.run({ x: 1 }, { overrides: { taskResourceLocalHandlers: handlers } }).result; // warm
  const t0 = performance.now();
  await machine.run({ x: 1 }, { overrides: { taskResourceLocalHandlers: handlers } }).result;
  return (performance.now() - t0) / states;
}
const enginePerState = await bareEngine(400);

// ---------------------------------------------------------------- 1. overhead per step (chain of 40)
// Warm: the per-step figures are of warm functions (cold starts are the bundles' init times,
// below). A chain starts all its gates at once, so the warm-up is as wide as a function's sandbox
// pool (lib/local/functions.ts DEFAULT_MAX_SANDBOXES), with both agents of the chains.
await waitEnded(
  (
    await api('POST', '/tasks', {
      goal: 'warm-up',
      plan: {
        steps: Array.from({ length: DEFAULT_MAX_SANDBOXES }, (_, i) => ({
          id: `w${i}`,
          ...(i % 2 ? { agent: 'echo' } : { agent: 'sleep', input: { ms: 0 } }),
        })),
      },
    })
  ).taskId,
);
// The runtime idle (the warm-up ended, nothing submitted): what its pollers, timers and
// emulators cost while nothing happens, per second.
const IDLE_SECONDS = 5;
await rt.idle();
const idle0 = await cpuNow();
await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
const idleCpu = cpuPer(idle0, await cpuNow(), IDLE_SECONDS);

const CHAIN = 40;
/** A chain of CHAIN steps of `agent`: overhead per step (first StepStarted to last StepSucceeded), what it called. */
async function chain(agent: string, input?: PlanSpec['steps'][number]['input']) {
  const plan: PlanSpec = {
    steps: Array.from({ length: CHAIN }, (_, i) => ({
      id: `s${i}`,
      agent,
      ...(input ? { input } : {}),
      ...(i ? { dependsOn: [`s${i - 1}`] } : {}),
    })),
  };
  const run = await metered(async () => {
    const { taskId } = await api('POST', '/tasks', { goal: `chain of ${agent}`, plan });
    await waitEnded(taskId);
    return taskId as string;
  });
  const evs = await events(run.result);
  const firstStart = ms(evs.find((e) => e.type === 'StepStarted'));
  const lastDone = ms([...evs].reverse().find((e) => e.type === 'StepSucceeded'));
  return { run, perStep: (lastDone - firstStart) / CHAIN, transitions: await transitionsOf(run.result) };
}
// The issue's chain: a no-op agent (the sleep fixture with 0 ms: a summary and an output, no
// artifacts). Then the same chain of echo steps, which write two artifacts each.
// The no-op chain runs twice: the first after the warm-up, whose one invocation per sandbox left
// their code cold (V8 still interpreting what it has not compiled yet), then again (the figure: a
// runtime that has been running a while, as `npm start` is).
const firstNoop = await chain('sleep', { ms: 0 });
const noop = await chain('sleep', { ms: 0 });
const { run: chainRun, perStep, transitions: chainTransitions } = noop;
const withArtifacts = await chain('echo');
const chainCpu = chainRun.cpu(CHAIN);
const echoCpu = withArtifacts.run.cpu(CHAIN);
/** "12.3 ms (main thread 4.5, DynamoDB worker 2.1, sandboxes 5.0, other threads 0.7)" */
const cpuText = (c: typeof chainCpu) =>
  `${c.allMs.toFixed(1)} ms (main thread ${c.mainThreadMs.toFixed(1)}, DynamoDB worker ${c.dynamodbWorkerMs.toFixed(1)}, sandboxes ${c.sandboxesMs.toFixed(1)}, other threads ${c.otherThreadsMs.toFixed(1)})`;
if (process.env.BENCH_ONLY === 'chain') {
  // `BENCH_ONLY=chain npm run bench`: the chains alone (e.g. to compare BATON_LOCAL_TRANSPORT=tcp with
  // the default), nothing written.
  console.log(
    `chain of ${CHAIN} no-op steps: ${perStep.toFixed(1)} ms per step (the first chain ${firstNoop.perStep.toFixed(1)} ms; bare engine ${enginePerState.toFixed(3)} ms per Task state), ${(chainTransitions / CHAIN).toFixed(1)} transitions per step; chain of ${CHAIN} echo steps (2 artifacts each): ${withArtifacts.perStep.toFixed(1)} ms per step`,
  );
  console.log(`CPU per no-op step: ${cpuText(chainCpu)}; per echo step: ${cpuText(echoCpu)}`);
  console.log(
    `  sandboxes by function, per no-op step: ${Object.entries(chainCpu.byFunction)
      .map(([fn, ms]) => `${fn} ${ms.toFixed(2)}`)
      .join(', ')}`,
  );
  clearInterval(rssTimer);
  await rt.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}

// ---------------------------------------------------------------- 2. critical-path scheduling
function waveMakespan(plan: PlanSpec, dur: (id: string) => number): number {
  const depth = new Map<string, number>();
  const steps = validatePlan(plan, { knownAgents: new Set(['sleep', 'echo']), source: 'bench' }).steps;
  for (const s of steps) depth.set(s.id, Math.max(0, ...s.dependsOn.map((d) => (depth.get(d) ?? 0) + 1)));
  const waves = new Map<number, number>();
  for (const s of steps)
    waves.set(depth.get(s.id) ?? 0, Math.max(waves.get(depth.get(s.id) ?? 0) ?? 0, dur(s.id)));
  return [...waves.values()].reduce((a, b) => a + b, 0);
}
async function scheduling(name: string, plan: PlanSpec, sleeps: Record<string, number>) {
  const { taskId } = await api('POST', '/tasks', { goal: name, plan });
  const status = await waitEnded(taskId);
  const evs = await events(taskId);
  const makespan =
    ms([...evs].reverse().find((e) => e.type === 'StepSucceeded')) -
    ms(evs.find((e) => e.type === 'StepStarted'));
  const steps = validatePlan(plan, { knownAgents: new Set(['sleep', 'echo']), source: 'bench' }).steps;
  const cp = criticalPath(steps, (s) => sleeps[s.id] ?? 0);
  return {
    name,
    status,
    steps: steps.length,
    criticalPathMs: cp,
    waveByWaveMs: waveMakespan(plan, (id) => sleeps[id] ?? 0),
    makespanMs: makespan,
    ratio: makespan / cp,
  };
}
const skewSleeps: Record<string, number> = {
  long: 3000,
  ...Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`c${i}`, 400])),
};
const skewed: PlanSpec = {
  steps: [
    { id: 'long', agent: 'sleep', input: { ms: 3000 } },
    ...Array.from({ length: 6 }, (_, i) => ({
      id: `c${i}`,
      agent: 'sleep',
      input: { ms: 400 },
      ...(i ? { dependsOn: [`c${i - 1}`] } : {}),
    })),
    { id: 'join', agent: 'echo', dependsOn: ['long', 'c5'] },
  ],
};
const ladderSleeps: Record<string, number> = {};
const ladderSteps: PlanSpec['steps'] = [];
for (let r = 0; r < 4; r++) {
  const prev = r ? [`j${r - 1}`] : [];
  const left = r % 2 ? 100 : 600;
  const right = r % 2 ? 600 : 100;
  ladderSleeps[`l${r}`] = left;
  ladderSleeps[`r${r}`] = right;
  ladderSteps.push(
    { id: `l${r}`, agent: 'sleep', input: { ms: left }, dependsOn: prev },
    { id: `r${r}`, agent: 'sleep', input: { ms: right }, dependsOn: prev },
    { id: `j${r}`, agent: 'echo', dependsOn: [`l${r}`, `r${r}`] },
  );
}
const skew = await scheduling('skewed DAG (3 s branch beside 6 × 400 ms)', skewed, skewSleeps);
const ladder = await scheduling('diamond ladder (4 rungs, 600/100 ms)', { steps: ladderSteps }, ladderSleeps);

// ---------------------------------------------------------------- 3. burst of 100 one-step tasks
// Twice: first with the pools as the workloads above left them (the API, intake, Planner, Finalize
// and the echo agent have one or two sandboxes each: the burst starts up to nine more of each, and
// their module inits take the same two cores), then again with every pool warm (the figure).
const BURST = 100;
const coldStarts = () => [...rt.functions.values()].reduce((n, f) => n + f.coldStarts, 0);
async function burst() {
  const cold0 = coldStarts();
  const run = await metered(async () => {
    const t0 = Date.now();
    const ids = (
      await Promise.all(
        Array.from({ length: BURST }, (_, i) =>
          api('POST', '/tasks', { goal: `burst ${i}`, plan: { steps: [{ id: 'a', agent: 'echo' }] } }),
        ),
      )
    ).map((r) => r.taskId as string);
    const acceptedMs = Date.now() - t0;
    for (const id of ids) await waitEnded(id);
    return { ids, t0, acceptedMs };
  });
  const latencies: number[] = [];
  let lastEnd = 0;
  for (const id of run.result.ids) {
    const evs = await events(id);
    const end = ms(evs.find((e) => e.type.startsWith('Task') && e.type !== 'TaskSubmitted'));
    latencies.push(end - ms(evs[0]));
    lastEnd = Math.max(lastEnd, end);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  const seconds = (lastEnd - run.result.t0) / 1000;
  return {
    run,
    figures: {
      tasks: BURST,
      acceptedMs: run.result.acceptedMs,
      tasksPerSecond: BURST / seconds,
      p50LatencyMs: pct(50),
      p99LatencyMs: pct(99),
      coldStarts: coldStarts() - cold0,
    },
  };
}
const coldBurst = await burst();
const { run: burstRun, figures: burstFigures } = await burst();
const oneStepTransitions = await transitionsOf(burstRun.result.ids[0] as string);
const burstCpu = burstRun.cpu(BURST);
/** Tasks per second this machine's cores could run if the burst were bound by CPU alone. */
const cpuBoundTasksPerSecond = (cpus().length * 1000) / burstCpu.allMs;

// ---------------------------------------------------------------- 4. counts and prices
/** us-east-1 list prices (December 2026; https://aws.amazon.com/<service>/pricing/). */
const PRICES = {
  sfnTransition: 0.025 / 1000, // Step Functions Standard: $0.025 per 1,000 state transitions
  lambdaRequest: 0.2 / 1e6, // Lambda: $0.20 per 1M requests (duration not included here)
  ddbWrite: 0.625 / 1e6, // DynamoDB on-demand: $0.625 per million write request units
  ddbRead: 0.125 / 1e6, // DynamoDB on-demand: $0.125 per million read request units
  s3Put: 0.005 / 1000, // S3 Standard: $0.005 per 1,000 PUT/COPY/POST/LIST
  s3Get: 0.0004 / 1000, // S3 Standard: $0.0004 per 1,000 GET and others
  sqsRequest: 0.4 / 1e6, // SQS standard: $0.40 per 1M requests
};
const DDB_WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
const DDB_READS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem'];
const sum = (calls: Map<string, number>, pred: (k: string) => boolean) =>
  [...calls].filter(([k]) => pred(k)).reduce((n, [, v]) => n + v, 0);
function counts(calls: Map<string, number>, invocations: number, transitions: number, per: number) {
  const c = {
    transitions: transitions / per,
    lambdaInvocations: invocations / per,
    dynamodbWrites: sum(calls, (k) => DDB_WRITES.includes(k)) / per,
    dynamodbReads: sum(calls, (k) => DDB_READS.includes(k)) / per,
    s3Puts: sum(calls, (k) => k === 's3:PutObject') / per,
    s3Gets: sum(calls, (k) => k === 's3:GetObject') / per,
    sqsCalls: sum(calls, (k) => k.startsWith('sqs:')) / per,
    sfnApiCalls: sum(calls, (k) => k.startsWith('states:')) / per,
    allCalls:
      sum(calls, (k) => k.startsWith('dynamodb:') || k.startsWith('s3:') || k.startsWith('states:')) / per,
  };
  const usd =
    c.transitions * PRICES.sfnTransition +
    c.lambdaInvocations * PRICES.lambdaRequest +
    c.dynamodbWrites * PRICES.ddbWrite +
    c.dynamodbReads * PRICES.ddbRead +
    c.s3Puts * PRICES.s3Put +
    c.s3Gets * PRICES.s3Get +
    c.sqsCalls * PRICES.sqsRequest;
  return { ...c, usd };
}
const perChainStep = counts(chainRun.calls, chainRun.invocations, chainTransitions, CHAIN);
const perArtifactStep = counts(
  withArtifacts.run.calls,
  withArtifacts.run.invocations,
  withArtifacts.transitions,
  CHAIN,
);
const perOneStepTask = counts(burstRun.calls, burstRun.invocations, oneStepTransitions * BURST, BURST);
const callsByAction = Object.fromEntries(
  [...chainRun.calls].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / CHAIN]),
);
/** Calls per step by caller and action (the per-step budget of bench/README.md). */
const callsByCaller = Object.fromEntries(
  [...chainRun.byCaller].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => [k, v / CHAIN]),
);
/** Calls per one-step task of the burst by caller and action (what a task costs besides its step). */
const callsPerTaskByCaller = Object.fromEntries(
  [...burstRun.byCaller].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => [k, v / BURST]),
);

/**
 * A step's own store/S3/SFN calls (its happy path), apart from the task's share and the bench's
 * polls: what its gate and its step runner call, and what the Planner calls in the chain beyond
 * what it calls for a one-step task (the StepWaiting it writes for each step with dependencies).
 */
const STORE_CALL = /\s(dynamodb|s3|states):/;
const callsOf = (byCaller: Map<string, number>, fn: RegExp) =>
  [...byCaller].filter(([k]) => fn.test(k) && STORE_CALL.test(k)).reduce((n, [, v]) => n + v, 0);
const ownCallsPerStep =
  (callsOf(chainRun.byCaller, /^(Gate|StepRunner)[0-9A-F]{8} /) +
    callsOf(chainRun.byCaller, /^Planner[0-9A-F]{8} /) -
    callsOf(burstRun.byCaller, /^Planner[0-9A-F]{8} /) / BURST) /
  CHAIN;

// ---------------------------------------------------------------- 4b. the floor of the checks
// What one call from a sandbox (a plain SDK GetItem: SigV4 verified, the policy checked, dynalite
// answering) and one invocation (a handler that returns at once) cost here (bench/floor.ts), and
// what a step's and a task's calls and invocations would cost at that floor with nothing of
// Baton's around them. A call is any AWS call a function makes (the state machine's own Lambda
// invocations are invocations, not calls of a sandbox).
const floor = await measureFloor(rt);
const sandboxCalls = (byCaller: Map<string, number>) =>
  [...byCaller].filter(([k]) => !/^Workflow[0-9A-F]{8} /.test(k)).reduce((n, [, v]) => n + v, 0);
/**
 * A chain step's path, one after another (bench/README.md "Per-step budget"): its runner's read,
 * the agent's Invoke, the completion's counter, the result, the release of the next gate (5
 * calls), and the agent's and the next RunAgent's invocations (2).
 */
const STEP_PATH = { calls: 5, invocations: 2 };
/** `calls` and `invocations` with what their CPU would be at the floor. */
const atFloor = (calls: number, invocations: number) => ({
  calls,
  invocations,
  cpuMs: calls * floor.call.cpuMsPerCall + invocations * floor.invocation.cpuMsPerInvocation,
});
const floorFigures = {
  call: floor.call,
  invocation: floor.invocation,
  stepPath: {
    ...STEP_PATH,
    ms: STEP_PATH.calls * floor.call.msPerCall + STEP_PATH.invocations * floor.invocation.msPerInvocation,
  },
  perStep: atFloor(sandboxCalls(chainRun.byCaller) / CHAIN, perChainStep.lambdaInvocations),
  perOneStepTask: atFloor(sandboxCalls(burstRun.byCaller) / BURST, perOneStepTask.lambdaInvocations),
};
/** Tasks per second the floor's CPU alone would allow on this machine's cores. */
const floorTasksPerSecond = (cpus().length * 1000) / floorFigures.perOneStepTask.cpuMs;

// ---------------------------------------------------------------- 5. bundles: size and module init
// (bench/bundles.ts: each function's bundle from the runtime's assembly, imported in a fresh process)
const bundleFigures = measureBundles(rt.functions.values());

// ---------------------------------------------------------------- 6. a 10,000-item fan-out (bench/fanout.ts)
const fanOut = await fanOutBench(rt, { items: 10_000, apiKey: 'bench' });

// ---------------------------------------------------------------- report
const results = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    node: process.version,
    platform: process.platform,
  },
  overhead: {
    chainSteps: CHAIN,
    perStepMs: perStep,
    /** The same chain run just before, the first after the warm-up (its sandboxes' code still cold). */
    firstChainPerStepMs: firstNoop.perStep,
    firstChainCpu: firstNoop.run.cpu(CHAIN),
    bareEnginePerStateMs: enginePerState,
    ratio: perStep / enginePerState,
    agent: 'sleep 0 ms (no artifacts)',
    withTwoArtifacts: { agent: 'echo', perStepMs: withArtifacts.perStep, calls: perArtifactStep.allCalls },
  },
  /** CPU time by thread (thread clocks), ms: per no-op step, per echo step, per one-step task of the burst. */
  cpu: {
    perStep: chainCpu,
    perEchoStep: echoCpu,
    perOneStepTask: burstCpu,
    cpuBoundTasksPerSecond,
    /** Per second of the runtime idle (after the warm-up, nothing running). */
    idlePerSecond: idleCpu,
  },
  /** One call and one invocation with nothing of Baton's around them, and a step's and a task's at that floor. */
  floor: { ...floorFigures, tasksPerSecond: floorTasksPerSecond },
  scheduling: [skew, ladder],
  /** The burst with every function's sandbox pool warm; `coldPools`: the one before it, which started them. */
  burst: { ...burstFigures, coldPools: { ...coldBurst.figures, cpu: coldBurst.run.cpu(BURST) } },
  perStep: perChainStep,
  /** Of perStep.allCalls, a step's own (its gate, its runner, its StepWaiting): the rest is the task's share and the polls. */
  ownCallsPerStep,
  perOneStepTask,
  callsPerStepByAction: callsByAction,
  callsPerStepByCaller: callsByCaller,
  callsPerOneStepTaskByCaller: callsPerTaskByCaller,
  tenStepTaskUsd: perChainStep.usd * 10 + (perOneStepTask.usd - perChainStep.usd),
  prices: PRICES,
  bundles: bundleFigures,
  fanOut,
  peakRssMiB: peakRss / 1024 / 1024,
};

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const rows: [string, string][] = [
  [
    'orchestration overhead per step (chain of 40 no-op steps)',
    `${f(perStep)} ms (the first chain, its code still cold: ${f(firstNoop.perStep)} ms)`,
  ],
  ['bare aws-local-stepfunctions engine per Task state', `${f(enginePerState, 3)} ms`],
  ['  ratio', `${f(perStep / enginePerState, 0)}×`],
  [
    '  the same chain of echo steps (2 artifacts each): per step, calls',
    `${f(withArtifacts.perStep)} ms, ${f(perArtifactStep.allCalls)} calls`,
  ],
  ['CPU per no-op step (thread clocks)', cpuText(chainCpu)],
  ['  per echo step', cpuText(echoCpu)],
  [`  per second of the runtime idle (${IDLE_SECONDS} s, nothing running)`, cpuText(idleCpu)],
  ...[skew, ladder].flatMap((s): [string, string][] => [
    [
      `${s.name}: makespan / critical path`,
      `${f(s.ratio, 2)} (${f(s.makespanMs, 0)} / ${s.criticalPathMs} ms; wave-by-wave ${s.waveByWaveMs} ms)`,
    ],
  ]),
  [
    `burst of ${BURST} one-step tasks, warm pools: throughput`,
    `${f(burstFigures.tasksPerSecond)} tasks/s (accepted in ${burstFigures.acceptedMs} ms)`,
  ],
  ['  task latency p50 / p99', `${f(burstFigures.p50LatencyMs, 0)} / ${f(burstFigures.p99LatencyMs, 0)} ms`],
  [
    '  the burst before it (starting the pools: cold starts)',
    `${f(coldBurst.figures.tasksPerSecond)} tasks/s, p50 / p99 ${f(coldBurst.figures.p50LatencyMs, 0)} / ${f(coldBurst.figures.p99LatencyMs, 0)} ms, ${coldBurst.figures.coldStarts} cold starts, CPU ${f(coldBurst.run.cpu(BURST).allMs)} ms a task`,
  ],
  ['  CPU per one-step task (thread clocks)', cpuText(burstCpu)],
  [
    '  what the CPU alone allows',
    `${f(cpuBoundTasksPerSecond)} tasks/s (${cpus().length} cores / CPU per task)`,
  ],
  [
    'the floor: one call from a sandbox (plain SDK GetItem, checked)',
    `${f(floor.call.msPerCall, 2)} ms, ${f(floor.call.cpuMsPerCall, 2)} ms CPU (sandbox ${f(floor.call.threads.sandbox, 2)}, main thread ${f(floor.call.threads.main, 2)}, DynamoDB worker ${f(floor.call.threads.dynamodb, 2)})`,
  ],
  [
    'the floor: one invocation of a handler that returns at once',
    `${f(floor.invocation.msPerInvocation, 2)} ms, ${f(floor.invocation.cpuMsPerInvocation, 2)} ms CPU`,
  ],
  [
    `  a chain step's path at the floor (${STEP_PATH.calls} calls, ${STEP_PATH.invocations} invocations in a row)`,
    `${f(floorFigures.stepPath.ms)} ms (measured ${f(perStep)} ms)`,
  ],
  [
    `  a no-op step's ${f(floorFigures.perStep.calls)} calls, ${f(floorFigures.perStep.invocations)} invocations at the floor`,
    `${f(floorFigures.perStep.cpuMs)} ms CPU (measured ${f(chainCpu.allMs)} ms)`,
  ],
  [
    `  a one-step task's ${f(floorFigures.perOneStepTask.calls)} calls, ${f(floorFigures.perOneStepTask.invocations)} invocations at the floor`,
    `${f(floorFigures.perOneStepTask.cpuMs)} ms CPU: ${f(floorTasksPerSecond)} tasks/s on ${cpus().length} cores (measured ${f(burstFigures.tasksPerSecond)})`,
  ],
  [
    'per step: transitions / Lambda invocations',
    `${f(perChainStep.transitions)} / ${f(perChainStep.lambdaInvocations)}`,
  ],
  [
    'per step: DynamoDB writes / reads',
    `${f(perChainStep.dynamodbWrites)} / ${f(perChainStep.dynamodbReads)}`,
  ],
  [
    'per step: S3 PUTs / GETs, SFN API calls',
    `${f(perChainStep.s3Puts)} / ${f(perChainStep.s3Gets)}, ${f(perChainStep.sfnApiCalls)}`,
  ],
  [
    'per step: store/S3/SFN calls in all / its own',
    `${f(perChainStep.allCalls)} / ${f(ownCallsPerStep)} (the rest: the task's share and the polls)`,
  ],
  [
    'per one-step task: transitions / invocations',
    `${f(perOneStepTask.transitions)} / ${f(perOneStepTask.lambdaInvocations)}`,
  ],
  ['cost of a 10-step task (requests, no Lambda duration)', `$${results.tenStepTaskUsd.toFixed(5)}`],
  [
    'largest / median bundle',
    `${f(bundleFigures[0]?.kb ?? Number.NaN, 0)} KB / ${f(median(bundleFigures.map((b) => b.kb)), 0)} KB (+ ${f(median(bundleFigures.map((b) => b.mapKb)), 0)} KB map each, beside the code)`,
  ],
  [
    'module init, slowest / median',
    `${f(Math.max(...bundleFigures.map((b) => b.initMs ?? 0)), 0)} / ${f(median(bundleFigures.map((b) => b.initMs ?? Number.NaN)), 0)} ms`,
  ],
  ['peak RSS (runtime, emulators and sandboxes in one process)', `${f(peakRss / 1024 / 1024, 0)} MiB`],
  ...fanOutRows(fanOut),
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(
  `Baton bench, ${results.date} on ${results.machine.cpus} × ${results.machine.model} (${process.version})`,
);
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
console.log(
  '  calls per step by action:',
  Object.entries(callsByAction)
    .map(([k, v]) => `${k} ${f(v)}`)
    .join(', '),
);
console.log('  calls per step by caller:');
for (const [k, v] of Object.entries(callsByCaller))
  if (v >= 0.05) console.log(`    ${k.padEnd(48)} ${f(v, 2)}`);
console.log('  CPU per step by function (no-op chain) / per one-step task (burst), ms:');
for (const [fn, ms] of Object.entries(burstCpu.byFunction))
  console.log(
    `    ${fn.padEnd(48)} ${f(chainCpu.byFunction[fn] ?? 0, 2).padStart(6)} / ${f(ms, 2).padStart(6)}`,
  );
console.log('  bundles:');
for (const b of bundleFigures)
  console.log(
    `    ${b.function.padEnd(32)} ${f(b.kb, 0).padStart(6)} KB  init ${b.initMs === null ? `failed: ${b.error}` : `${f(b.initMs, 0)} ms`}`,
  );
console.log(
  '  prices: us-east-1 list prices, https://aws.amazon.com/step-functions/pricing/, /lambda/pricing/, /dynamodb/pricing/on-demand/, /s3/pricing/, /sqs/pricing/',
);

const outDir = resolve(import.meta.dirname, 'results');
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `${results.date.slice(0, 10)}.json`);
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
console.log(`  written: ${outFile}`);

clearInterval(rssTimer);
await rt.close();
rmSync(dataDir, { recursive: true, force: true });
