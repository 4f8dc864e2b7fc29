/**
 * Benchmarks that print figures (never asserted in tests): `npm run bench`.
 *  1. critical-path scheduling: makespan of a skewed DAG of sleeping steps vs its critical path
 *     and vs what wave-by-wave scheduling would take;
 *  2. orchestration overhead per step on a chain of no-op steps;
 *  3. intake throughput: a burst of submissions until all have ended.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { criticalPath, validatePlan } from '../lambdas/core/plan.js';
import type { PlanSpec } from '../lambdas/core/schemas.js';
import { startLocalRuntime } from '../lib/local/runtime.js';

const config = resolve(import.meta.dirname, '../test/fixtures/baton.config.json');
const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
const rt = await startLocalRuntime({ dataDir, port: 0, apiKey: 'bench', configPath: config, log: () => {} });

// biome-ignore lint/suspicious/noExplicitAny: bench reads loosely typed JSON responses
async function api(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${rt.url}${path}`, {
    method,
    headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return (await res.json()) as Record<string, any>;
}

async function run(plan: PlanSpec, goal: string): Promise<{ ms: number; status: string }> {
  const t0 = performance.now();
  const { taskId } = await api('POST', '/tasks', { goal, plan });
  for (;;) {
    const t = await api('GET', `/tasks/${taskId}`);
    if (['SUCCEEDED', 'FAILED', 'DEGRADED'].includes(t.status))
      return { ms: performance.now() - t0, status: t.status };
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a wave-by-wave scheduler would take: the sum over depth levels of the slowest step. */
function waveMakespan(plan: PlanSpec, ms: (id: string) => number): number {
  const depth = new Map<string, number>();
  const steps = validatePlan(plan, { knownAgents: new Set(['sleep', 'echo']), source: 'bench' }).steps;
  for (const s of steps) depth.set(s.id, Math.max(0, ...s.dependsOn.map((d) => (depth.get(d) ?? 0) + 1)));
  const waves = new Map<number, number>();
  for (const s of steps)
    waves.set(depth.get(s.id) ?? 0, Math.max(waves.get(depth.get(s.id) ?? 0) ?? 0, ms(s.id)));
  return [...waves.values()].reduce((a, b) => a + b, 0);
}

// 1. skewed DAG: two chains with opposite skew per level
const sleeps = { a1: 3000, a2: 200, a3: 3000, b1: 200, b2: 3000, b3: 200 } as Record<string, number> & {
  a1: number;
  a2: number;
  a3: number;
  b1: number;
  b2: number;
  b3: number;
};
const skewed: PlanSpec = {
  steps: [
    { id: 'a1', agent: 'sleep', input: { ms: sleeps.a1 } },
    { id: 'a2', agent: 'sleep', input: { ms: sleeps.a2 }, dependsOn: ['a1'] },
    { id: 'a3', agent: 'sleep', input: { ms: sleeps.a3 }, dependsOn: ['a2'] },
    { id: 'b1', agent: 'sleep', input: { ms: sleeps.b1 } },
    { id: 'b2', agent: 'sleep', input: { ms: sleeps.b2 }, dependsOn: ['b1'] },
    { id: 'b3', agent: 'sleep', input: { ms: sleeps.b3 }, dependsOn: ['b2'] },
    { id: 'join', agent: 'echo', dependsOn: ['a3', 'b3'] },
  ],
};
await run({ steps: [{ id: 'warm', agent: 'echo' }] }, 'warm-up');
const cp = criticalPath(
  validatePlan(skewed, { knownAgents: new Set(['sleep', 'echo']), source: 'bench' }).steps,
  (s) => sleeps[s.id] ?? 0,
);
const waves = waveMakespan(skewed, (id) => sleeps[id] ?? 0);
const skew = await run(skewed, 'skewed');
console.log('critical-path scheduling (skewed DAG, 7 steps)');
console.log(`  critical path        ${cp} ms`);
console.log(`  wave-by-wave would be ${waves} ms`);
console.log(
  `  measured makespan    ${skew.ms.toFixed(0)} ms (${skew.status}), overhead ${(skew.ms - cp).toFixed(0)} ms`,
);

// 2. overhead per step on a chain of echo steps
const n = 20;
const chain: PlanSpec = {
  steps: Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    agent: 'echo',
    ...(i ? { dependsOn: [`s${i - 1}`] } : {}),
  })),
};
const ch = await run(chain, 'chain');
console.log(
  `orchestration overhead: chain of ${n} no-op steps in ${ch.ms.toFixed(0)} ms = ${(ch.ms / n).toFixed(1)} ms per step`,
);

// 3. intake burst
const burst = 50;
const t0 = performance.now();
const ids = await Promise.all(
  Array.from({ length: burst }, (_, i) =>
    api('POST', '/tasks', { goal: `burst ${i}`, plan: { steps: [{ id: 'a', agent: 'echo' }] } }),
  ),
);
const accepted = performance.now() - t0;
for (const { taskId } of ids) {
  for (;;) {
    const t = await api('GET', `/tasks/${taskId}`);
    if (t.status === 'SUCCEEDED' || t.status === 'FAILED') break;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const drained = performance.now() - t0;
console.log(
  `intake burst: ${burst} submissions accepted in ${accepted.toFixed(0)} ms, all ended after ${drained.toFixed(0)} ms (${((burst / drained) * 1000).toFixed(1)} tasks/s)`,
);
console.log(`memory: rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB`);

await rt.close();
rmSync(dataDir, { recursive: true, force: true });
