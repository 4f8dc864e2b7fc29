/** GET /tasks/{id}'s fan-out progress (lambdas/api/fanout-progress.ts): counters while it runs, the result once it ended. */
import { describe, expect, it } from 'vitest';
import { withFanOutProgress } from '../../lambdas/api/fanout-progress.js';
import { Events, recordedEvent } from '../../lambdas/core/events.js';
import { foldTask } from '../../lambdas/core/fold.js';
import { normalizeStep } from '../../lambdas/core/plan.js';
import type { StepResult } from '../../lambdas/core/ports.js';
import type { Plan } from '../../lambdas/core/schemas.js';
import { MemoryCounters } from '../fakes/memory-fanout.js';

const plan: Plan = {
  source: 'explicit',
  steps: [normalizeStep({ id: 'each', agent: 'echo', forEach: { items: 'inputs.datasets.x' } })],
};
const meta = { taskId: 't1', goal: 'g', createdAt: '2030-01-01T00:00:00.000Z', traceId: 'tr' };
const scope = (run: number) => ({ taskId: 't1', traceId: 'tr', run, stepId: 'each', attempt: run });
const started = (run: number, rerun?: number) =>
  recordedEvent(
    Events.fanOutStarted(scope(run), {
      attempt: run,
      run,
      agent: 'echo',
      items: 'inputs.datasets.x',
      total: 100,
      ...(rerun !== undefined ? { rerun } : {}),
      maxConcurrency: 10,
      itemsPerBatch: 1,
      toleratedFailurePercentage: 5,
    }),
    run,
    '2030-01-01T00:00:01.000Z',
  );

async function view(events: ReturnType<typeof started>[], counters: MemoryCounters, result?: StepResult) {
  const v = foldTask(meta, plan, events);
  const out = await withFanOutProgress(v, plan, events, {
    counters,
    results: async () => new Map(result ? [['each', result]] : []),
  });
  return out.plan.steps[0]?.fanOut;
}

describe('fan-out progress in the task view', () => {
  it('counts done, failed, running and pending from the counters while the step runs', async () => {
    const counters = new MemoryCounters();
    await counters.countItem('t1', 1, 'each', 0, 'started', 40);
    await counters.countItem('t1', 1, 'each', 3, 'succeeded', 30);
    await counters.countItem('t1', 1, 'each', 5, 'failed', 2);
    expect(await view([started(1)], counters)).toEqual({
      total: 100,
      succeeded: 30,
      failed: 2,
      running: 8,
      pending: 60,
      items: 'inputs.datasets.x',
    });
  });

  it("counts a redrive's items over the run before's successes, and an ended step from its result", async () => {
    const counters = new MemoryCounters();
    await counters.countItem('t1', 2, 'each', 0, 'started', 3);
    await counters.countItem('t1', 2, 'each', 0, 'succeeded', 1);
    const before: StepResult = {
      stepId: 'each',
      run: 1,
      status: 'SUCCEEDED',
      items: { total: 100, succeeded: 97, failed: 3 },
      at: 'x',
    };
    expect(await view([started(1), started(2, 3)], counters, before)).toEqual({
      total: 100,
      succeeded: 98,
      failed: 0,
      running: 2,
      pending: 0,
      rerun: 3,
      items: 'inputs.datasets.x',
    });
    const after: StepResult = { ...before, run: 2, items: { total: 100, succeeded: 100, failed: 0 } };
    expect(await view([started(1), started(2, 3)], counters, after)).toMatchObject({
      succeeded: 100,
      running: 0,
    });
  });
});
