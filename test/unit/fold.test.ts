import { describe, expect, it } from 'vitest';
import { Events, type NewEvent, recordedEvent, type TaskEvent } from '../../lambdas/core/events.js';
import { foldTask } from '../../lambdas/core/fold.js';
import { validatePlan } from '../../lambdas/core/plan.js';
import type { TaskResult } from '../../lambdas/core/schemas.js';

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

/** Events as the store records them: the next seq, one second apart. */
let seq = 0;
function ev(e: NewEvent): TaskEvent {
  seq += 1;
  return recordedEvent(e, seq, `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`);
}

const task = (run = 1) => ({ taskId: 't1', traceId: 'tr', run });
const on = (stepId: string, run = 1) => ({ ...task(run), stepId });
const at = (stepId: string, attempt: number, run = 1) => ({ ...on(stepId, run), attempt });
const submitted = () => Events.taskSubmitted(task(), { goal: 'g', explicitPlan: true });
const planned = (run = 1) =>
  Events.planCreated(task(run), {
    source: 'explicit',
    steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })),
  });
const started = (stepId: string, attempt: number, run = 1) =>
  Events.stepStarted(at(stepId, attempt, run), { attempt, agent: 'echo', run });
const succeeded = (
  stepId: string,
  attempt: number,
  more: { summary?: string; output?: { n: number }; run?: number } = {},
) =>
  Events.stepSucceeded(on(stepId, more.run), {
    attempt,
    agent: 'echo',
    summary: more.summary ?? `done ${stepId}`,
    ...(more.output ? { output: more.output } : {}),
    artifacts: [],
  });
const attemptFailed = (stepId: string, attempt: number, error: { name: string; message: string }) =>
  Events.stepAttemptFailed(at(stepId, attempt), {
    attempt,
    phase: 'agent',
    error,
    willRetry: true,
    reason: 'retryable',
  });
const stepFailed = (stepId: string, error: { name: string; message: string }) =>
  Events.stepFailed(on(stepId), { attempts: 1, error, reason: 'not retryable' });
const taskFailed = (error: { name: string; message: string }) => Events.taskFailed(task(), { error });

describe('task state folding', () => {
  it('starts QUEUED with every planned step PENDING', () => {
    const view = foldTask(meta, plan, [ev(submitted())]);
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
      ev(submitted()),
      ev(planned()),
      ev(started('a', 1)),
      ev(attemptFailed('a', 1, { name: 'Baton.AgentFailed', message: 'flaky' })),
      ev(started('a', 2)),
      ev(succeeded('a', 2, { summary: 'done a', output: { n: 1 } })),
      ev(Events.stepWaiting(on('b'), { waitingFor: ['a'] })),
      ev(started('b', 1)),
      ev(stepFailed('b', { name: 'Baton.NonRetryable', message: 'bad' })),
      ev(
        Events.stepSkipped(on('c'), {
          reason: 'dependency b failed',
          failedDependency: 'b',
          error: { name: 'Baton.DependencyFailed', message: 'dependency b failed' },
        }),
      ),
      ev(taskFailed({ name: 'Baton.TaskFailed', message: 'b failed' })),
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
      ev(planned()),
      ev(succeeded('a', 1)),
      ev(started('b', 1)),
      ev(Events.taskCancelled(task(), { run: 1, previousStatus: 'RUNNING' })),
    ]);
    expect(view.status).toBe('CANCELLED');
    expect(view.plan.steps.map((s) => s.status)).toEqual(['SUCCEEDED', 'CANCELLED', 'CANCELLED']);
  });

  it('folds a fallback: the step succeeds with the fallback attempt', () => {
    const view = foldTask(meta, plan, [
      ev(planned()),
      ev(started('a', 1)),
      ev(attemptFailed('a', 1, { name: 'States.Timeout', message: '' })),
      ev(
        Events.stepFallbackStarted(on('a'), {
          fallbackAgent: 'echo',
          attempt: 2,
          failure: { agent: 'echo', name: 'States.Timeout', message: '' },
        }),
      ),
      ev(started('a', 2)),
      ev(succeeded('a', 2, { summary: 'from fallback' })),
    ]);
    expect(view.plan.steps[0]).toMatchObject({ status: 'SUCCEEDED', attempts: 2, summary: 'from fallback' });
    expect(view.plan.steps[0]?.error).toBeUndefined();
  });

  it('folds a degraded finish with the result and the missing steps', () => {
    const result: TaskResult = { steps: { a: { status: 'SUCCEEDED' } }, missing: ['b', 'c'] };
    const view = foldTask(meta, plan, [ev(planned()), ev(Events.taskDegraded(task(), { result }))]);
    expect(view.status).toBe('DEGRADED');
    expect(view.result).toEqual(result);
  });

  it('folds a redrive: FAILED, then QUEUED, RUNNING and SUCCEEDED, with the error gone', () => {
    const view = foldTask(meta, plan, [
      ev(planned()),
      ev(stepFailed('b', { name: 'E', message: 'm' })),
      ev(taskFailed({ name: 'Baton.TaskFailed', message: 'b' })),
    ]);
    expect(view.status).toBe('FAILED');
    const redriven = foldTask(meta, plan, [
      ev(planned()),
      ev(stepFailed('b', { name: 'E', message: 'm' })),
      ev(taskFailed({ name: 'Baton.TaskFailed', message: 'b' })),
      ev(Events.taskRedriven(task(2), { run: 2, previousRun: 1, previousStatus: 'FAILED' })),
    ]);
    expect(redriven.status).toBe('QUEUED');
    const done = foldTask(meta, plan, [
      ev(planned()),
      ev(stepFailed('b', { name: 'E', message: 'm' })),
      ev(taskFailed({ name: 'Baton.TaskFailed', message: 'b' })),
      ev(Events.taskRedriven(task(2), { run: 2, previousRun: 1, previousStatus: 'FAILED' })),
      ev(planned(2)),
      ev(started('b', 2, 2)),
      ev(succeeded('b', 2, { run: 2 })),
      ev(Events.taskSucceeded(task(2), { result: { steps: {} } })),
    ]);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.error).toBeUndefined();
    expect(done.plan.steps[1]).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });
});
