/**
 * The floor of local mode's checks on this machine: what one AWS call from a sandbox and one
 * Lambda invocation cost with nothing of Baton's around them. `npm run bench` prints them next
 * to a step's and a task's figures (what their calls and invocations alone would take);
 * `npm run bench:transport` compares the sandboxes' two transports with the same probe.
 *
 * - **A call**: a probe function, with the Gate's identity and environment, makes sequential
 *   DynamoDB GetItem calls with a plain SDK client (no Powertools, no DocumentClient): SigV4
 *   verified against the Gate's own key, the Gate's synthesized policy checked, dynalite answering
 *   in its worker, over the in-process transport (or TCP).
 * - **An invocation**: the runtime invokes a probe whose handler returns at once, one invocation
 *   after another, as the state machine invokes the Gate and the step runner (its Lambda call is
 *   not signed: the engine calls the local function directly, after the policy check).
 *
 * Each is timed inside one invocation (calls) or around the invocations, and costed by thread on
 * the threads' own clocks. The first round warms the probe and is left out; the figures are the
 * medians of the other rounds. Nothing here is asserted by a test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalFunction } from '../lib/local/functions.js';
import type { LocalRuntime } from '../lib/local/runtime.js';

const require = createRequire(import.meta.url);
const dynamodb = JSON.stringify(pathToFileURL(require.resolve('@aws-sdk/client-dynamodb')).href);
const CALL_PROBE = `
import dynamodb from ${dynamodb};
const client = new dynamodb.DynamoDBClient({});
const get = () => client.send(new dynamodb.GetItemCommand({
  TableName: process.env.TABLE_NAME, Key: { pk: { S: 'TASK#none' }, sk: { S: 'META' } },
}));
export async function handler(event) {
  await get();
  const t0 = performance.now();
  for (let i = 0; i < event.calls; i++) await get();
  return { msPerCall: (performance.now() - t0) / event.calls };
}
`;
const INVOCATION_PROBE = 'export async function handler() { return null; }\n';

/** CPU by thread, ms per call (their own clocks). */
export interface ThreadCpu {
  sandbox: number;
  main: number;
  dynamodb: number;
}

export interface CallFloor {
  /** Wall time of one call, inside the probe, ms. */
  msPerCall: number;
  /** The process's CPU per call, every thread (V8's and libuv's helpers included), ms. */
  cpuMsPerCall: number;
  threads: ThreadCpu;
}

export interface InvocationFloor {
  /** Wall time of one invocation of a handler that returns at once, from the runtime, ms. */
  msPerInvocation: number;
  /** The process's CPU per invocation, every thread, ms. */
  cpuMsPerInvocation: number;
}

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const processCpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};
const mainCpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.threadCpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** Probe functions with the Gate's identity and environment, their modules in a folder of their own. */
class Probes {
  private readonly dir = mkdtempSync(join(tmpdir(), 'baton-bench-floor-'));
  private readonly made: LocalFunction[] = [];
  constructor(private readonly rt: LocalRuntime) {}

  make(name: string, source: string, inProcess: boolean): LocalFunction {
    const gate = [...this.rt.functions.values()].find((f) => f.logicalId.startsWith('Gate'));
    if (!gate) throw new Error('no Gate function in the runtime: the probes take its identity');
    const file = join(this.dir, `${name}.mjs`);
    writeFileSync(file, source);
    const env = gate.environment();
    const transport = inProcess ? this.rt.transport : undefined;
    if (inProcess && !transport)
      throw new Error('the runtime has no in-process transport (BATON_LOCAL_TRANSPORT=tcp)');
    const fn = new LocalFunction({
      logicalId: `FloorProbe${name}`,
      arn: gate.arn,
      file,
      exportName: 'handler',
      timeoutSeconds: 300,
      memoryMb: 128,
      env: () => env,
      approvalLine: () => undefined,
      ...(transport ? { transport } : {}),
    });
    this.made.push(fn);
    return fn;
  }

  async close(): Promise<void> {
    await Promise.all(this.made.map((f) => f.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One call's floor for each transport asked for (`inProcess`: the sandboxes' default; false: TCP),
 * the transports taking turns round by round so that a shared machine's load falls on each alike.
 */
export async function measureCalls(
  rt: LocalRuntime,
  modes: { name: string; inProcess: boolean }[],
  { calls = 300, rounds = 4 }: { calls?: number; rounds?: number } = {},
): Promise<Map<string, CallFloor>> {
  const probes = new Probes(rt);
  try {
    const runs = modes.map((m) => ({
      ...m,
      fn: probes.make(m.inProcess ? 'InProcess' : 'Tcp', CALL_PROBE, m.inProcess),
      ms: [] as number[],
      cpu: [] as number[],
      threads: [] as ThreadCpu[],
    }));
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        const cpu0 = process.cpuUsage();
        const main0 = process.threadCpuUsage();
        const sandbox0 = run.fn.cpuMs;
        const dynamodb0 = (await rt.emulators.threadCpuMs()).dynamodb;
        const { msPerCall } = (await run.fn.invoke({ calls })) as { msPerCall: number };
        const cpu = processCpuMs(cpu0);
        const main = mainCpuMs(main0);
        const dynamodb = (await rt.emulators.threadCpuMs()).dynamodb - dynamodb0;
        if (round === 0) continue; // the probe's cold start and cold code
        const n = calls + 1; // the handler's first call is outside its timing, not outside the clocks
        run.ms.push(msPerCall);
        run.cpu.push(cpu / n);
        run.threads.push({ sandbox: (run.fn.cpuMs - sandbox0) / n, main: main / n, dynamodb: dynamodb / n });
      }
    }
    return new Map(
      runs.map((r) => [
        r.name,
        {
          msPerCall: median(r.ms),
          cpuMsPerCall: median(r.cpu),
          threads: {
            sandbox: median(r.threads.map((t) => t.sandbox)),
            main: median(r.threads.map((t) => t.main)),
            dynamodb: median(r.threads.map((t) => t.dynamodb)),
          },
        },
      ]),
    );
  } finally {
    await probes.close();
  }
}

/** One invocation's floor: `invocations` one after another, `rounds` times (the first left out). */
export async function measureInvocations(
  rt: LocalRuntime,
  { invocations = 300, rounds = 4 }: { invocations?: number; rounds?: number } = {},
): Promise<InvocationFloor> {
  const probes = new Probes(rt);
  try {
    const fn = probes.make('Invocation', INVOCATION_PROBE, rt.transport !== undefined);
    const ms: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < invocations; i++) await fn.invoke({ i });
      const wall = performance.now() - t0;
      const used = processCpuMs(cpu0);
      if (round === 0) continue;
      ms.push(wall / invocations);
      cpu.push(used / invocations);
    }
    return { msPerInvocation: median(ms), cpuMsPerInvocation: median(cpu) };
  } finally {
    await probes.close();
  }
}

/** Both floors with the runtime's own transport. */
export async function measureFloor(
  rt: LocalRuntime,
): Promise<{ call: CallFloor; invocation: InvocationFloor }> {
  const mode = { name: 'default', inProcess: rt.transport !== undefined };
  const call = (await measureCalls(rt, [mode])).get('default');
  if (!call) throw new Error('no call floor measured');
  return { call, invocation: await measureInvocations(rt) };
}
