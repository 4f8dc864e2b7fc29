/**
 * The sandboxes' transport to the local endpoints, A/B in one runtime: `node --import tsx
 * bench/transport.ts`. Two sandboxes run the same probe with the Gate function's identity, one
 * over the in-process transport (lib/local/transport.ts), one over TCP (what
 * BATON_LOCAL_TRANSPORT=tcp gives every sandbox), taking turns: each makes `CALLS` sequential
 * DynamoDB GetItem calls (SigV4 verified, the role's policy checked, dynalite answering) and the
 * bench prints the wall time per call and the process's CPU per call (every thread). Taking turns
 * in one process makes the comparison fair on a shared machine; absolute figures still depend on
 * its load. Nothing here is asserted by a test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalFunction } from '../lib/local/functions.js';
import { startLocalRuntime } from '../lib/local/runtime.js';

const CALLS = Number(process.env.TRANSPORT_CALLS ?? 300);
const ROUNDS = Number(process.env.TRANSPORT_ROUNDS ?? 4);

const require = createRequire(import.meta.url);
const dynamodb = JSON.stringify(pathToFileURL(require.resolve('@aws-sdk/client-dynamodb')).href);
const PROBE = `
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

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-transport-'));
const probeFile = join(dir, 'probe.mjs');
writeFileSync(probeFile, PROBE);
const config = resolve(import.meta.dirname, '../test/fixtures/baton.config.json');
const rt = await startLocalRuntime({
  dataDir: join(dir, 'data'),
  port: 0,
  apiKey: 'b',
  configPath: config,
  log: () => {},
});
if (!rt.transport) throw new Error('run it without BATON_LOCAL_TRANSPORT=tcp: it compares both itself');
const gate = [...rt.functions.values()].find((f) => f.logicalId.startsWith('Gate'));
if (!gate) throw new Error('no Gate function');
const env = gate.environment();
const probe = (inProcess: boolean) =>
  new LocalFunction({
    logicalId: `TransportProbe${inProcess ? 'InProcess' : 'Tcp'}`,
    arn: gate.arn,
    file: probeFile,
    exportName: 'handler',
    timeoutSeconds: 300,
    memoryMb: 128,
    env: () => env,
    approvalLine: () => undefined,
    ...(inProcess && rt.transport ? { transport: rt.transport } : {}),
  });
const modes = [
  { name: 'tcp', fn: probe(false), ms: [] as number[], cpu: [] as number[], threads: [] as Threads[] },
  { name: 'in-process', fn: probe(true), ms: [] as number[], cpu: [] as number[], threads: [] as Threads[] },
];
/** CPU per call by thread (their own clocks), ms: the probe's sandbox, the main thread, the DynamoDB worker. */
interface Threads {
  sandbox: number;
  main: number;
  dynamodb: number;
}
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) {
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    const sandbox0 = mode.fn.cpuMs;
    const dynamodb0 = (await rt.emulators.threadCpuMs()).dynamodb;
    const { msPerCall } = (await mode.fn.invoke({ calls: CALLS })) as { msPerCall: number };
    const cpu = process.cpuUsage(cpu0);
    const main = process.threadCpuUsage(main0);
    const dynamodb = (await rt.emulators.threadCpuMs()).dynamodb - dynamodb0;
    // The first round includes each sandbox's cold start: left out.
    if (round === 0) continue;
    const calls = CALLS + 1;
    mode.ms.push(msPerCall);
    mode.cpu.push((cpu.user + cpu.system) / 1000 / calls);
    mode.threads.push({
      sandbox: (mode.fn.cpuMs - sandbox0) / calls,
      main: (main.user + main.system) / 1000 / calls,
      dynamodb: dynamodb / calls,
    });
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`DynamoDB GetItem from a sandbox, ${CALLS} calls × ${ROUNDS - 1} rounds each (medians):`);
for (const m of modes) {
  const of = (k: keyof Threads) => median(m.threads.map((t) => t[k])).toFixed(2);
  console.log(
    `  ${m.name.padEnd(11)} ${median(m.ms).toFixed(2)} ms per call, ${median(m.cpu).toFixed(2)} ms CPU per call (all threads: the sandbox ${of('sandbox')}, the main thread ${of('main')}, the DynamoDB worker ${of('dynamodb')})`,
  );
}
await Promise.all(modes.map((m) => m.fn.close()));
await rt.close();
rmSync(dir, { recursive: true, force: true });
