import { describe, expect, it } from 'vitest';
import { foldTask } from '../../lambdas/core/fold.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import type { TaskEvent } from '../../lambdas/core/schemas.js';

const meta = { taskId: 't1', goal: 'g', createdAt: '2026-01-01T00:00:00.000Z', traceId: 'tr' };
const plan = validatePlan(
  {
    steps: [
      { id: 'a', agent: 'echo' },
      { id: 'b', agent: 'echo', dependsOn: ['a'] },
      { id: 'c', agent: 'echo', dependsOn: ['a'] },
    ],
  },
  { knownAgents: new Set(['echo']), source: 'explicit' },
);

let seq = 0;
function ev(type: TaskEvent['type'], stepId?: string, data: TaskEvent['data'] = {}): TaskEvent {
  seq += 1;
  return {
    id: `e${seq}`,
    seq,
    at: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
    type,
    taskId: 't1',
    traceId: 'tr',
    data,
    ...(stepId ? { stepId } : {}),
  };
}

describe('task state folding', () => {
  it('starts QUEUED with every planned step PENDING', () => {
    const view = foldTask(meta, plan, [ev('TaskSubmitted')]);
    expect(view.status).toBe('QUEUED');
    expect(view.plan.steps.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['a', 'PENDING', 0],
      ['b', 'PENDING', 0],
      ['c', 'PENDING', 0],
    ]);
  });

  it('folds a run with a retry, a success, a failure and a skip', () => {
    // Prepare
    const events = [
      ev('TaskSubmitted'),
      ev('PlanCreated'),
      ev('StepStarted', 'a', { attempt: 1 }),
      ev('StepAttemptFailed', 'a', { attempt: 1, error: { name: 'Baton.AgentFailed', message: 'flaky' } }),
      ev('StepStarted', 'a', { attempt: 2 }),
      ev('StepSucceeded', 'a', { attempt: 2, summary: 'done a', output: { n: 1 } }),
      ev('StepWaiting', 'b'),
      ev('StepStarted', 'b', { attempt: 1 }),
      ev('StepFailed', 'b', { error: { name: 'Baton.NonRetryable', message: 'bad' } }),
      ev('StepSkipped', 'c', { error: { name: 'Baton.DependencyFailed', message: 'dependency b failed' } }),
      ev('TaskFailed', undefined, { error: { name: 'Baton.TaskFailed', message: 'b failed' } }),
    ];
    // Act: events arrive out of order; the fold sorts by seq
    const view = foldTask(meta, plan, [...events].reverse());
    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error).toEqual({ name: 'Baton.TaskFailed', message: 'b failed' });
    const [a, b, c] = view.plan.steps;
    expect(a).toMatchObject({ status: 'SUCCEEDED', attempts: 2, summary: 'done a', output: { n: 1 } });
    expect(a?.error).toBeUndefined();
    expect(a?.startedAt).toBe(events[2]?.at);
    expect(a?.endedAt).toBe(events[5]?.at);
    expect(b).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: { name: 'Baton.NonRetryable', message: 'bad' },
    });
    expect(c).toMatchObject({ status: 'SKIPPED', attempts: 0 });
    expect(view.updatedAt).toBe(events.at(-1)?.at);
  });

  it('marks unfinished steps CANCELLED when the task is cancelled', () => {
    const view = foldTask(meta, plan, [
      ev('PlanCreated'),
      ev('StepSucceeded', 'a'),
      ev('StepStarted', 'b', { attempt: 1 }),
      ev('TaskCancelled'),
    ]);
    expect(view.status).toBe('CANCELLED');
    expect(view.plan.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'CANCELLED', 'CANCELLED']);
  });

  it('folds a fallback: the step succeeds with the fallback attempt', () => {
    const view = foldTask(meta, plan, [
      ev('PlanCreated'),
      ev('StepStarted', 'a', { attempt: 1 }),
      ev('StepAttemptFailed', 'a', { attempt: 1, error: { name: 'States.Timeout', message: '' } }),
      ev('StepFallbackStarted', 'a', { attempt: 2 }),
      ev('StepStarted', 'a', { attempt: 2 }),
      ev('StepSucceeded', 'a', { attempt: 2, summary: 'from fallback' }),
    ]);
    expect(view.plan.steps[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 2, summary: 'from fallback' });
    expect(view.plan.steps[0]?.error).toBeUndefined();
  });

  it('folds a degraded finish with the result and the missing steps', () => {
    const result = { steps: { a: { status: 'SUCCEEDED' } }, missing: ['b', 'c'] };
    const view = foldTask(meta, plan, [ev('PlanCreated'), ev('TaskDegraded', undefined, { result })]);
    expect(view.status).toBe('DEGRADED');
    expect(view.result).toEqual(result);
  });

  it('folds a redrive: FAILED, then QUEUED, RUNNING and SUCCEEDED, with the error gone', () => {
    const view = foldTask(meta, plan, [
      ev('PlanCreated'),
      ev('StepFailed', 'b', { error: { name: 'E', message: 'm' } }),
      ev('TaskFailed', undefined, { error: { name: 'Baton.TaskFailed', message: 'b' } }),
    ]);
    expect(view.status).toBe('FAILED');
    const redriven = foldTask(meta, plan, [
      ev('PlanCreated'),
      ev('StepFailed', 'b', { error: { name: 'E', message: 'm' } }),
      ev('TaskFailed', undefined, { error: { name: 'Baton.TaskFailed', message: 'b' } }),
      ev('TaskRedriven', undefined, { run: 2 }),
    ]);
    expect(redriven.status).toBe('QUEUED');
    const done = foldTask(meta, plan, [
      ev('PlanCreated'),
      ev('StepFailed', 'b', { error: { name: 'E', message: 'm' } }),
      ev('TaskFailed', undefined, { error: { name: 'Baton.TaskFailed', message: 'b' } }),
      ev('TaskRedriven', undefined, { run: 2 }),
      ev('PlanCreated'),
      ev('StepStarted', 'b', { attempt: 2 }),
      ev('StepSucceeded', 'b', { attempt: 2 }),
      ev('TaskSucceeded', undefined, { result: { steps: {} } }),
    ]);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.error).toBeUndefined();
    expect(done.plan.steps[1]).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });
});
