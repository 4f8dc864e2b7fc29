/**
 * The sandboxes' transport to the local endpoints, A/B in one runtime: `npm run bench:transport`.
 * Two probe sandboxes with the Gate function's identity (bench/floor.ts), one over the in-process
 * transport (lib/local/transport.ts), one over TCP (what BATON_LOCAL_TRANSPORT=tcp gives every
 * sandbox), take turns: each makes `TRANSPORT_CALLS` sequential DynamoDB GetItem calls (SigV4
 * verified, the role's policy checked, dynalite answering), and the bench prints the wall time per
 * call and the CPU per call by thread. Taking turns in one process makes the comparison fair on a
 * shared machine; absolute figures still depend on its load. Nothing here is asserted by a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startLocalRuntime } from '../lib/local/runtime.js';
import { measureCalls } from './floor.js';

const CALLS = Number(process.env.TRANSPORT_CALLS ?? 300);
const ROUNDS = Number(process.env.TRANSPORT_ROUNDS ?? 4);

const dir = mkdtempSync(join(tmpdir(), 'baton-bench-transport-'));
const config = resolve(import.meta.dirname, '../test/fixtures/baton.config.json');
const rt = await startLocalRuntime({
  dataDir: join(dir, 'data'),
  port: 0,
  apiKey: 'b',
  configPath: config,
  log: () => {},
});
if (!rt.transport) throw new Error('run it without BATON_LOCAL_TRANSPORT=tcp: it compares both itself');
const figures = await measureCalls(
  rt,
  [
    { name: 'tcp', inProcess: false },
    { name: 'in-process', inProcess: true },
  ],
  { calls: CALLS, rounds: ROUNDS },
);
console.log(`DynamoDB GetItem from a sandbox, ${CALLS} calls × ${ROUNDS - 1} rounds each (medians):`);
for (const [name, m] of figures) {
  console.log(
    `  ${name.padEnd(11)} ${m.msPerCall.toFixed(2)} ms per call, ${m.cpuMsPerCall.toFixed(2)} ms CPU per call (all threads: the sandbox ${m.threads.sandbox.toFixed(2)}, the main thread ${m.threads.main.toFixed(2)}, the DynamoDB worker ${m.threads.dynamodb.toFixed(2)})`,
  );
}
await rt.close();
rmSync(dir, { recursive: true, force: true });
