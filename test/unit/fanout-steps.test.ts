/**
 * A fan-out step's Lambdas (lambdas/orchestrator/fanout.ts, lambdas/agents/item-runner.ts) on the
 * in-memory store, counters and bucket, with the Distributed Map played by the test: PrepareItems
 * writes the items object, each batch runs through RunItems (and ItemsFailed when it fails), the
 * ResultWriter's files are written as AWS writes them, and CollectItems makes the step's outcome.
 */

import { beforeEach, describe, expect, it } from 'vitest';
import { serveAgentRequest } from '../../lambdas/agents/agent-side.js';
import { ALL_CAPABILITIES } from '../../lambdas/agents/capabilities.js';
import type { AgentModule } from '../../lambdas/agents/define.js';
import { runItems } from '../../lambdas/agents/item-runner.js';
import type { AgentRequest } from '../../lambdas/agents/protocol.js';
import { resolveAgentSettings } from '../../lambdas/agents/registry.js';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { FanOutItem, parseResultsJsonl } from '../../lambdas/core/fanout.js';
import { decideOutcome } from '../../lambdas/core/outcome.js';
import { normalizeStep } from '../../lambdas/core/plan.js';
import type { StepSpec } from '../../lambdas/core/schemas.js';
import type { PreparedItems } from '../../lambdas/core/states.js';
import { collectItems, type FanOutDeps, prepareItems } from '../../lambdas/orchestrator/fanout.js';
import { itemsFailed } from '../../lambdas/orchestrator/fanout-step.js';
import { MemoryBucket } from '../fakes/memory-bucket.js';
import {
  type FakeChild,
  MemoryCounters,
  MemoryObjects,
  writeResultWriterFiles,
} from '../fakes/memory-fanout.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';

const TASK = 't_fanout';
const BUCKET = 'artifacts';
let store: MemoryStore;
let counters: MemoryCounters;
let objects: MemoryObjects;
let bucket: MemoryBucket;
let released: string[];

function fanOutDeps(): FanOutDeps {
  return {
    store,
    counters,
    objects,
    bucket: BUCKET,
    // results.jsonl goes to the same objects the fan-out reads (one bucket)
    artifacts: {
      put: async (p) => {
        const stored = await bucket.put(p);
        await objects.putText(BUCKET, stored.s3Key, Buffer.from(p.body).toString('utf8'), p.contentType);
        return stored;
      },
    },
    workflow: {
      succeed: async (token: string) => void released.push(token),
      fail: async (token: string) => void released.push(token),
    } as never,
    agentFunctions: {},
  };
}

/** An agent that fails (AgentFailed, retryable) on the given indexes, `times` times each. */
function flaky(failing: ReadonlySet<number>, times = Number.POSITIVE_INFINITY): AgentModule {
  const seen = new Map<number, number>();
  return async (input) => {
    const index = input.input.index as number;
    const n = (seen.get(index) ?? 0) + 1;
    seen.set(index, n);
    if (failing.has(index) && n <= times) throw new Error(`item ${index} refused`);
    return { summary: `did ${index}`, output: { name: (input.input.item as { name: string }).name, index } };
  };
}

function itemDeps(agent: AgentModule) {
  return {
    store,
    counters,
    artifacts: bucket,
    invokeAgent: (_fn: string, req: AgentRequest) =>
      serveAgentRequest('echo', agent, JSON.parse(JSON.stringify(req)) as AgentRequest, {
        fetch: bucket.fetch,
        runtime: {
          settingsFor: () => resolveAgentSettings('echo'),
          defaultModel: () => ({ provider: 'offline' }),
          capabilities: ALL_CAPABILITIES,
        },
      }),
  };
}

async function setUp(forEach: StepSpec['forEach'], rows = 100, retry = { maxAttempts: 2 }) {
  store = new MemoryStore();
  counters = new MemoryCounters();
  objects = new MemoryObjects();
  bucket = new MemoryBucket();
  released = [];
  await store.createTask(storedTask({ taskId: TASK, status: 'RUNNING' }), {});
  const steps = [
    normalizeStep({ id: 'rows', agent: 'data' }),
    normalizeStep({
      id: 'enrich',
      agent: 'echo',
      input: { focus: 'x' },
      forEach,
      retry: { ...retry, intervalSeconds: 0 },
    }),
    normalizeStep({ id: 'report', agent: 'writing', dependsOn: ['enrich'] }),
  ];
  await store.putPlan(TASK, { source: 'explicit', steps });
  // rows succeeded with a CSV artifact of `rows` companies
  const csv = ['name', ...Array.from({ length: rows }, (_, i) => `Co ${i}`)].join('\n');
  const art = await fanOutDeps().artifacts.put({
    taskId: TASK,
    stepId: 'rows',
    attempt: 1,
    name: 'rows.csv',
    contentType: 'text/csv',
    body: Buffer.from(csv),
  });
  await store.putArtifact(TASK, art);
  const { s3Key: _k, attempt: _a, ...ref } = art;
  await store.putResult(TASK, {
    stepId: 'rows',
    run: 1,
    status: 'SUCCEEDED',
    summary: 'rows',
    output: { companies: Array.from({ length: 5 }, (_, i) => ({ name: `c${i}` })) },
    artifacts: [ref],
    at: 'x',
  });
}

/** Plays the Distributed Map: each batch of the items object as a child execution, retried by ItemsFailed. */
async function runMap(run: number, attempt: number, prepared: PreparedItems, agent: AgentModule) {
  const entries = FanOutItem.array().parse(JSON.parse(await objects.getText(prepared.bucket, prepared.key)));
  const children: FakeChild[] = [];
  for (let i = 0; i < entries.length; i += prepared.itemsPerBatch) {
    const items = entries.slice(i, i + prepared.itemsPerBatch);
    const ref = { taskId: TASK, run, stepId: 'enrich', attempt, agentFunction: 'fn', timeoutSeconds: 60 };
    for (let itemAttempt = 1; ; ) {
      try {
        const out = await runItems(itemDeps(agent), { ...ref, itemAttempt, items });
        children.push({ items, results: out.results });
        break;
      } catch (err) {
        const error = {
          Error: (err as Error).name,
          Cause: JSON.stringify({ errorMessage: (err as Error).message }),
        };
        const decision = await itemsFailed(fanOutDeps(), {
          ...ref,
          itemAttempt,
          indexes: items.map((it) => it.index),
          error,
        });
        if (!decision.retry) {
          children.push({ items, error });
          break;
        }
        itemAttempt = decision.nextAttempt;
      }
    }
  }
  return writeResultWriterFiles(objects, prepared.bucket, prepared.resultPrefix, children, `r${run}`);
}

async function results() {
  const r = (await store.getResults(TASK)).get('enrich');
  const art = await store.getArtifact(TASK, r?.artifacts?.[0]?.id ?? '');
  return { result: r, lines: parseResultsJsonl(await objects.getText(BUCKET, art?.s3Key ?? '')) };
}

beforeEach(() => {
  released = [];
});

describe('a fan-out step', () => {
  it('runs each row of an upstream CSV, writes results.jsonl in index order and succeeds within its tolerance', async () => {
    // Prepare: 100 rows, 3 of them fail every attempt, 5% tolerated; the dependent is parked
    await setUp({ items: 'steps.rows.artifacts.rows.csv', toleratedFailurePercentage: 5 });
    await store.putToken(TASK, 1, 'report', 'token-report');
    const ref = { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 };
    // Act
    const prepared = await prepareItems(fanOutDeps(), ref);
    const manifestKey = await runMap(1, 1, prepared, flaky(new Set([3, 50, 99])));
    const collected = await collectItems(fanOutDeps(), { ...ref, manifestKey });
    // Assess
    expect(prepared).toMatchObject({
      count: 100,
      total: 100,
      next: 'run',
      itemsPerBatch: 1,
      toleratedFailurePercentage: 5,
    });
    expect(prepared.key).toBe(`tasks/${TASK}/steps/enrich/1/fanout/items.json`);
    expect(collected).toEqual({ status: 'SUCCEEDED' });
    const { result, lines } = await results();
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(lines[0]).toEqual({
      index: 0,
      status: 'SUCCEEDED',
      summary: 'did 0',
      output: { name: 'Co 0', index: 0 },
      run: 1,
    });
    expect(lines[3]).toMatchObject({
      status: 'FAILED',
      error: { name: ErrorNames.AgentFailed, message: 'item 3: Error: item 3 refused' },
    });
    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      items: { total: 100, succeeded: 97, failed: 3, failedIndexes: [3, 50, 99] },
      summary: '100 items of enrich: 97 succeeded, 3 failed (within the 5% tolerated)',
    });
    expect(released).toEqual(['token-report']);
    expect(await counters.itemCounters(TASK, 1, 'enrich')).toEqual({
      started: 100,
      succeeded: 97,
      failed: 3,
    });
    // one item event per failed item, none per success; the task's own events do not hold them
    const trail = (await store.listEvents(TASK, { limit: 1000 })).events;
    expect(trail.filter((e) => e.type === 'FanOutItemFailed').map((e) => [e.item, e.data])).toEqual([
      [
        3,
        {
          index: 3,
          attempts: 2,
          error: { name: ErrorNames.AgentFailed, message: 'item 3: Error: item 3 refused' },
        },
      ],
      [50, expect.objectContaining({ index: 50 })],
      [99, expect.objectContaining({ index: 99 })],
    ]);
    expect((await store.allEvents(TASK)).map((e) => e.type)).toEqual([
      'StepStarted',
      'FanOutStarted',
      'ArtifactStored',
      'FanOutCompleted',
      'StepSucceeded',
    ]);
    const plan = await store.getPlan(TASK);
    const outcome = decideOutcome(
      { source: 'explicit', steps: plan?.steps.slice(0, 2) ?? [] },
      await store.getResults(TASK),
      {},
    );
    expect(outcome.status).toBe('DEGRADED');
    expect(outcome.missing).toEqual(['enrich[3]', 'enrich[50]', 'enrich[99]']);
  });

  it('redrives only the failed items, keeping the indexes, and replaces the step result', async () => {
    // Prepare: run 1 leaves items 3 and 50 failed
    await setUp({ items: 'steps.rows.artifacts.rows.csv', toleratedFailurePercentage: 5 });
    const run1 = { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 };
    const p1 = await prepareItems(fanOutDeps(), run1);
    await collectItems(fanOutDeps(), {
      ...run1,
      manifestKey: await runMap(1, 1, p1, flaky(new Set([3, 50]))),
    });
    await store.setRun(TASK, 2);
    const seen: number[] = [];
    const agent: AgentModule = async (input) => {
      seen.push(input.input.index as number);
      return { summary: `again ${input.input.index}` };
    };
    // Act
    const run2 = { taskId: TASK, run: 2, stepId: 'enrich', attempt: 2 };
    const p2 = await prepareItems(fanOutDeps(), run2);
    const collected = await collectItems(fanOutDeps(), {
      ...run2,
      manifestKey: await runMap(2, 2, p2, agent),
    });
    // Assess
    expect(p2).toMatchObject({ count: 2, total: 100, next: 'run' });
    expect(seen.sort((a, b) => a - b)).toEqual([3, 50]);
    expect(collected).toEqual({ status: 'SUCCEEDED' });
    const { result, lines } = await results();
    expect(result).toMatchObject({
      run: 2,
      status: 'SUCCEEDED',
      items: { total: 100, succeeded: 100, failed: 0 },
    });
    expect(lines).toHaveLength(100);
    expect(lines[3]).toEqual({ index: 3, status: 'SUCCEEDED', summary: 'again 3', run: 2 });
    expect(lines[4]).toMatchObject({ summary: 'did 4', run: 1 });
    const started = (await store.allEvents(TASK)).filter((e) => e.type === 'FanOutStarted');
    expect(started.at(-1)?.data).toMatchObject({ total: 100, rerun: 2, run: 2 });
  });

  it('fails over its tolerance: the results say which items failed, and the dependent skips', async () => {
    // Prepare: 100 rows, 3 fail, 1% tolerated
    await setUp({ items: 'steps.rows.artifacts.rows.csv', toleratedFailurePercentage: 1 });
    await store.putToken(TASK, 1, 'report', 'token-report');
    const ref = { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 };
    const prepared = await prepareItems(fanOutDeps(), ref);
    await runMap(1, 1, prepared, flaky(new Set([3, 50, 99])));
    // Act: the map failed with States.ExceedToleratedFailureThreshold (no manifest key in its output)
    const collected = await collectItems(fanOutDeps(), {
      ...ref,
      error: {
        Error: 'States.ExceedToleratedFailureThreshold',
        Cause: 'The specified tolerated failure threshold was exceeded',
      },
    });
    // Assess
    expect(collected).toEqual({ status: 'FAILED' });
    const { result, lines } = await results();
    expect(result).toMatchObject({
      status: 'FAILED',
      error: { name: ErrorNames.FanOutFailed },
      items: { failed: 3 },
    });
    expect(lines.filter((l) => l.status === 'FAILED').map((l) => l.index)).toEqual([3, 50, 99]);
    expect((await store.getResults(TASK)).get('report')).toMatchObject({ status: 'SKIPPED' });
    expect(released).toEqual(['token-report']);
  });

  it('counts items the map never ran as failed when it stopped early', async () => {
    await setUp({ items: 'steps.rows.artifacts.rows.csv' }, 10);
    const ref = { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 };
    await prepareItems(fanOutDeps(), ref);
    const collected = await collectItems(fanOutDeps(), {
      ...ref,
      error: { Error: 'States.Runtime', Cause: 'boom' },
    });
    expect(collected).toEqual({ status: 'FAILED' });
    const { result, lines } = await results();
    expect(result?.error).toEqual({ name: 'States.Runtime', message: 'boom' });
    expect(lines.every((l) => l.status === 'FAILED' && l.error?.name === ErrorNames.ItemNotRun)).toBe(true);
  });

  it('batches items: a batch runs its items at once, and fails and retries as one', async () => {
    await setUp({ items: 'steps.rows.output.companies', itemsPerBatch: 4 }, 10);
    const ref = { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 };
    const prepared = await prepareItems(fanOutDeps(), ref);
    expect(prepared).toMatchObject({ next: 'run', count: 5, itemsPerBatch: 4 });
    const manifestKey = await runMap(1, 1, prepared, flaky(new Set([1]), 1));
    expect(await collectItems(fanOutDeps(), { ...ref, manifestKey })).toEqual({ status: 'SUCCEEDED' });
    const { lines } = await results();
    expect(lines.map((l) => [l.index, l.status])).toEqual([
      [0, 'SUCCEEDED'],
      [1, 'SUCCEEDED'],
      [2, 'SUCCEEDED'],
      [3, 'SUCCEEDED'],
      [4, 'SUCCEEDED'],
    ]);
    expect(await counters.itemCounters(TASK, 1, 'enrich')).toEqual({ started: 5, succeeded: 5, failed: 0 });
  });

  it('fails the step at once when its items cannot be read', async () => {
    await setUp({ items: 'steps.rows.artifacts.nope.csv' });
    await store.putToken(TASK, 1, 'report', 'token-report');
    const prepared = await prepareItems(fanOutDeps(), { taskId: TASK, run: 1, stepId: 'enrich', attempt: 1 });
    expect(prepared).toMatchObject({ next: 'done', count: 0 });
    expect((await store.getResults(TASK)).get('enrich')).toMatchObject({
      status: 'FAILED',
      error: {
        name: ErrorNames.ItemsUnavailable,
        message: 'steps.rows.artifacts.nope.csv: step rows has no artifact "nope.csv" (artifacts: rows.csv)',
      },
    });
    expect(released).toEqual(['token-report']);
  });

  it("gives each item's agent the step's input plus item and index, and never an upload slot", async () => {
    await setUp({ items: 'steps.rows.artifacts.rows.csv' }, 2);
    const sent: AgentRequest[] = [];
    const deps = itemDeps(async () => ({ summary: 'ok' }));
    const out = await runItems(
      {
        ...deps,
        invokeAgent: async (fn, req) => {
          sent.push(req);
          return deps.invokeAgent(fn, req);
        },
      },
      {
        taskId: TASK,
        run: 1,
        stepId: 'enrich',
        attempt: 1,
        itemAttempt: 1,
        agentFunction: 'fn',
        timeoutSeconds: 60,
        items: [{ index: 7, item: { name: 'Co 7' } }],
      },
    );
    expect(out).toEqual({ results: [{ index: 7, summary: 'ok' }] });
    expect(sent[0]?.input.input).toEqual({ focus: 'x', item: { name: 'Co 7' }, index: 7 });
    expect(sent[0]?.uploads).toEqual([]);
    expect(sent[0]?.readable.map((r) => r.ref.name)).toEqual(['rows.csv']);
  });
});
