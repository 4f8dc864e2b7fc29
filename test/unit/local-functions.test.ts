/**
 * LocalFunction, the local Lambda sandbox pool: timeouts replace the sandbox, errors keep Lambda's
 * errorType/errorMessage, concurrent invocations get sandboxes of their own, warm ones are reused.
 * The function is a small ES module written for the test (what a bundle is to the pool).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../lambdas/core/errors.js';
import {
  heapLimitsFor,
  LambdaInvocationError,
  LocalFunction,
  type LocalFunctionSpec,
} from '../../lib/local/functions.js';

const MODULE = `
let calls = 0;
export async function handler(event, context) {
  calls += 1;
  if (event.hang) await new Promise(() => {});
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.hoardMb) {
    // Keeps what it allocates (in this sandbox's module state), as a leak does.
    globalThis.hoard ??= [];
    for (let i = 0; i < event.hoardMb; i++) globalThis.hoard.push(new Array(128 * 1024).fill(i));
  }
  if (event.spinCpuMs) {
    // Busy until this thread's own CPU clock has advanced that far (not wall time).
    const from = process.threadCpuUsage();
    for (;;) {
      const used = process.threadCpuUsage(from);
      if (used.user + used.system >= event.spinCpuMs * 1000) break;
    }
  }
  if (event.fail) {
    const err = new Error('the agent gave up');
    err.name = ${JSON.stringify(ErrorNames.AgentFailed)};
    throw err;
  }
  if (event.approval) console.log('[baton] approval needed for step s of task t: open http://x');
  return { calls, secret: process.env.SECRET ?? null, remaining: context.getRemainingTimeInMillis() > 0 };
}
`;

let dir: string;
let file: string;
const pools: LocalFunction[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'baton-local-fn-'));
  file = path.join(dir, 'index.mjs');
  await writeFile(file, MODULE);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

function pool(overrides: Partial<LocalFunctionSpec> = {}): LocalFunction {
  const fn = new LocalFunction({
    logicalId: 'Probe',
    arn: 'arn:aws:lambda:us-east-1:000000000000:function:Probe',
    file,
    exportName: 'handler',
    timeoutSeconds: 5,
    memoryMb: 128,
    env: () => ({ SECRET: 'only-mine' }),
    approvalLine: () => undefined,
    ...overrides,
  });
  pools.push(fn);
  return fn;
}

describe('LocalFunction', () => {
  it('reuses a warm sandbox and gives it the environment it was started with', async () => {
    // Prepare
    const fn = pool();
    // Act
    const first = await fn.invoke({});
    const second = await fn.invoke({});
    // Assess
    expect(first).toEqual({ calls: 1, secret: 'only-mine', remaining: true });
    expect(second).toMatchObject({ calls: 2 });
    expect(fn.coldStarts).toBe(1);
  });

  it("adds up the CPU time its sandboxes' threads spend on invocations, not the time they wait", async () => {
    // Prepare: the cold start (the thread's start and the module's import) is the first call's.
    const fn = pool();
    await fn.invoke({});
    const warm = fn.cpuMs;
    // Act
    await fn.invoke({ spinCpuMs: 50 });
    const spun = fn.cpuMs - warm;
    await fn.invoke({ sleepMs: 300 });
    const slept = fn.cpuMs - warm - spun;
    // Assess: 50 ms of the thread's CPU counted; 300 ms asleep costs the thread next to none.
    expect(warm).toBeGreaterThan(0);
    expect(spun).toBeGreaterThanOrEqual(50);
    expect(slept).toBeLessThan(300);
  });

  it('ends a sandbox that outgrows its memory with Runtime.OutOfMemory; the next call starts cold', async () => {
    // Prepare: 128 MB, so 116 MB of old space (the Lambda bootstrap's share); each MB hoarded is
    // an array of 128 Ki numbers (~1 MiB).
    const fn = pool({ memoryMb: 128 });
    await fn.invoke({ hoardMb: 16 });
    // Act
    const failed = await fn.invoke({ hoardMb: 512 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    const after = await fn.invoke({});
    // Assess
    expect(failed).toBeInstanceOf(LambdaInvocationError);
    expect((failed as LambdaInvocationError).errorType).toBe('Runtime.OutOfMemory');
    expect(after).toMatchObject({ calls: 1 });
    expect(fn.coldStarts).toBe(2);
  });

  it('gives each sandbox the heap limits the Lambda runtime sets for its memory', () => {
    // Act / Assess: the bootstrap's new space is a tenth of the memory, a semi-space half of that.
    expect(heapLimitsFor(128)).toEqual({ maxOldGenerationSizeMb: 116, maxYoungGenerationSizeMb: 18 });
    expect(heapLimitsFor(1024)).toEqual({ maxOldGenerationSizeMb: 922, maxYoungGenerationSizeMb: 153 });
  });

  it('terminates a sandbox at the timeout with Sandbox.Timedout; the next call starts cold', async () => {
    // Prepare
    const fn = pool({ timeoutSeconds: 1 });
    await fn.invoke({});
    // Act
    const timedOut = await fn.invoke({ hang: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    const after = await fn.invoke({});
    // Assess
    expect(timedOut).toMatchObject({
      name: 'Sandbox.Timedout',
      message: expect.stringContaining('1 seconds'),
    });
    expect(after).toMatchObject({ calls: 1 });
    expect(fn.coldStarts).toBe(2);
  });

  it('returns a thrown error as Lambda does: its name is the errorType, and the sandbox stays warm', async () => {
    // Prepare
    const fn = pool();
    // Act
    const failure = await fn.invoke({ fail: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    const next = await fn.invoke({});
    // Assess
    expect(failure).toMatchObject({ name: ErrorNames.AgentFailed, message: 'the agent gave up' });
    expect(next).toMatchObject({ calls: 2 });
  });

  it('runs concurrent invocations in sandboxes of their own', async () => {
    // Prepare
    const fn = pool();
    // Act
    const results = await Promise.all([fn.invoke({ sleepMs: 300 }), fn.invoke({ sleepMs: 300 })]);
    // Assess: each ran as the first call of its own sandbox
    expect(results).toEqual([expect.objectContaining({ calls: 1 }), expect.objectContaining({ calls: 1 })]);
    expect(fn.coldStarts).toBe(2);
  });

  it('sends the console approval notifier’s lines to the runtime log, across the thread boundary', async () => {
    // Prepare
    const lines: string[] = [];
    const fn = pool({ approvalLine: (line) => lines.push(line) });
    // Act
    await fn.invoke({ approval: true });
    await new Promise((r) => setTimeout(r, 100));
    // Assess
    expect(lines).toEqual(['[baton] approval needed for step s of task t: open http://x']);
  });

  it('reports a missing export as Runtime.HandlerNotFound', async () => {
    // Prepare
    const fn = pool({ exportName: 'nope' });
    // Act
    const failure = await fn.invoke({}).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Assess
    expect(failure).toMatchObject({
      name: 'Runtime.HandlerNotFound',
      message: 'index.nope is undefined or not exported',
    });
  });
});
