/**
 * Execution semantics through the local runtime running the synthesized state machine:
 * scheduling, retries, timeouts and fallbacks, failure propagation, degraded completion,
 * cancellation, dead letters and redrive, duplicate deliveries, intake bursts.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, type TrailEvent } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

type Step = {
  id: string;
  status: string;
  attempts: number;
  summary?: string;
  output?: Record<string, unknown>;
  error?: { name: string; message: string };
};
type Task = {
  taskId: string;
  status: string;
  plan: { steps: Step[] };
  result?: { steps: Record<string, { status: string }>; missing?: string[] };
  error?: { name: string; message: string };
};
type Event = TrailEvent;

const submit = (body: Record<string, unknown>) => h.submit(body);
const trail = (taskId: string) => h.events(taskId);
const ENDED = ['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'];
const step = (t: Task, id: string) => t.plan.steps.find((s) => s.id === id) as Step;
const seqOf = (events: Event[], type: string, stepId?: string) =>
  events.find((e) => e.type === type && e.stepId === stepId)?.seq ?? -1;

describe('critical-path scheduling', () => {
  it('starts a step when its own dependencies finish, not when a wave does', async () => {
    // Prepare: a slow independent step beside a fast chain f1 -> f2 -> f3
    const taskId = await submit({
      goal: 'skewed',
      plan: {
        steps: [
          { id: 'slow', agent: 'sleep', input: { ms: 6000 } },
          { id: 'f1', agent: 'sleep', input: { ms: 50 } },
          { id: 'f2', agent: 'sleep', input: { ms: 50 }, dependsOn: ['f1'] },
          { id: 'f3', agent: 'sleep', input: { ms: 50 }, dependsOn: ['f2'] },
          { id: 'join', agent: 'echo', dependsOn: ['slow', 'f3'] },
        ],
      },
    });
    // Act
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    // Assess: the whole fast chain finished while the slow step was still running
    expect(task.status).toBe('SUCCEEDED');
    const events = await trail(taskId);
    expect(seqOf(events, 'StepSucceeded', 'f3')).toBeLessThan(seqOf(events, 'StepSucceeded', 'slow'));
    expect(seqOf(events, 'StepStarted', 'join')).toBeGreaterThan(seqOf(events, 'StepSucceeded', 'slow'));
  });

  it('cannot deadlock: 45 steps listed dependents-first run under a concurrency limit of 2', async () => {
    const leaves = Array.from({ length: 44 }, (_, i) => ({
      id: `leaf-${i + 1}`,
      agent: 'echo',
      dependsOn: ['root'],
    }));
    const taskId = await submit({
      goal: 'dependents first',
      policy: { maxConcurrency: 2 },
      plan: { steps: [...leaves, { id: 'root', agent: 'echo' }] },
    });
    const task = (await h.waitFor(taskId, ENDED, 120_000)) as Task;
    expect(task.status).toBe('SUCCEEDED');
    expect(task.plan.steps.every((s) => s.status === 'SUCCEEDED')).toBe(true);
  });

  it('runs a plan wider than the inline Map limit of 40 correctly', async () => {
    const wide = Array.from({ length: 41 }, (_, i) => ({ id: `w-${i + 1}`, agent: 'echo' }));
    const taskId = await submit({
      goal: 'wide',
      plan: { steps: [...wide, { id: 'all', agent: 'echo', dependsOn: wide.map((w) => w.id) }] },
    });
    const task = (await h.waitFor(taskId, ENDED, 120_000)) as Task;
    expect(task.status).toBe('SUCCEEDED');
    expect(step(task, 'all').output?.upstream).toHaveLength(41);
  });
});

describe('retries', () => {
  it('retries a flaky step with capped exponential backoff visible in the events', async () => {
    // Prepare: fails attempts 1 and 2
    const taskId = await submit({
      goal: 'flaky',
      plan: {
        steps: [
          {
            id: 'f',
            agent: 'flaky',
            input: { failures: 2 },
            retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 },
          },
        ],
      },
    });
    // Act
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    // Assess
    expect(task.status).toBe('SUCCEEDED');
    expect(step(task, 'f')).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 3,
      summary: 'succeeded on attempt 3',
    });
    const events = await trail(taskId);
    const failures = events.filter((e) => e.type === 'StepAttemptFailed');
    expect(
      failures.map((e) => [e.data.attempt, e.data.willRetry, (e.data.error as { name: string }).name]),
    ).toEqual([
      [1, true, 'Baton.AgentFailed'],
      [2, true, 'Baton.AgentFailed'],
    ]);
    expect(failures[0]?.data.error).toHaveProperty(
      'message',
      expect.stringContaining('flaky failure on attempt 1 of 2'),
    );
    const starts = events.filter((e) => e.type === 'StepStarted');
    expect(starts.map((e) => e.data.attempt)).toEqual([1, 2, 3]);
    // each retry waited at least the backoff it announced (interval 1 s, then 2 s with jitter)
    failures.forEach((f, i) => {
      const wait = Number(f.data.retryInSeconds);
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(2 ** i);
      const gap = Date.parse(starts[i + 1]?.at as string) - Date.parse(f.at);
      expect(gap).toBeGreaterThanOrEqual(wait * 1000 - 50);
    });
  });

  it('does not retry a non-retryable failure', async () => {
    const taskId = await submit({
      goal: 'contract breach',
      plan: {
        steps: [
          { id: 'bad', agent: 'echo', input: {}, retry: { maxAttempts: 5 } },
          { id: 'x', agent: 'fail', retry: { maxAttempts: 1 } },
        ],
      },
    });
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    expect(task.status).toBe('FAILED');
    expect(step(task, 'x')).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      error: { name: 'Baton.AgentFailed' },
    });
  });
});

describe('timeouts and fallback', () => {
  it('times a hung step out into its fallback agent, which gets the failure', async () => {
    const taskId = await submit({
      goal: 'hung',
      plan: {
        steps: [
          // 3 s: the fallback attempt has the step's timeout too, and starts two cold sandboxes
          // (a runner beside the hung one, and echo's) on a machine that may be busy
          { id: 'h', agent: 'hang', timeoutSeconds: 3, retry: { maxAttempts: 1 }, fallbackAgent: 'echo' },
        ],
      },
    });
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    expect(task.status).toBe('SUCCEEDED');
    const events = await trail(taskId);
    const failed = events.find((e) => e.type === 'StepAttemptFailed');
    expect(failed?.data).toMatchObject({ attempt: 1, error: { name: 'States.Timeout' }, willRetry: false });
    expect(events.find((e) => e.type === 'StepFallbackStarted')?.data).toMatchObject({
      fallbackAgent: 'echo',
      attempt: 2,
    });
    const succeeded = events.find((e) => e.type === 'StepSucceeded');
    expect(succeeded?.data).toMatchObject({ agent: 'echo', attempt: 2 });
    expect(step(task, 'h').output?.failure).toMatchObject({ agent: 'hang', name: 'States.Timeout' });
  });

  it('fails the step when the fallback fails too', async () => {
    const taskId = await submit({
      goal: 'double failure',
      plan: { steps: [{ id: 's', agent: 'fail', retry: { maxAttempts: 1 }, fallbackAgent: 'fail' }] },
    });
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    expect(task.status).toBe('FAILED');
    const phases = (await trail(taskId))
      .filter((e) => e.type === 'StepAttemptFailed')
      .map((e) => e.data.phase);
    expect(phases).toEqual(['agent', 'fallback']);
  });
});

describe('failure propagation, degraded completion, dead letters and redrive', () => {
  it('finishes DEGRADED when only an optional step failed, saying what is missing', async () => {
    const taskId = await submit({
      goal: 'optional',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'extra', agent: 'fail', optional: true, retry: { maxAttempts: 1 } },
        ],
      },
    });
    const task = (await h.waitFor(taskId, ENDED)) as Task;
    expect(task.status).toBe('DEGRADED');
    expect(task.result?.missing).toEqual(['extra']);
    expect(task.result?.steps.a?.status).toBe('SUCCEEDED');
  });

  it('fails on a required step, skips its dependents, dead-letters, and redrives only what did not succeed', async () => {
    // Prepare: b fails its only attempt (flaky: fails attempt 1); c depends on b; d is independent
    const taskId = await submit({
      goal: 'redrive me',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'b', agent: 'flaky', input: { failures: 1 }, retry: { maxAttempts: 1 }, dependsOn: ['a'] },
          { id: 'c', agent: 'echo', dependsOn: ['b'] },
          { id: 'd', agent: 'echo' },
        ],
      },
    });
    const failed = (await h.waitFor(taskId, ENDED)) as Task;
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.message).toContain('required steps b, c did not succeed');
    expect(failed.plan.steps.map((s) => [s.id, s.status])).toEqual([
      ['a', 'SUCCEEDED'],
      ['b', 'FAILED'],
      ['c', 'SKIPPED'],
      ['d', 'SUCCEEDED'],
    ]);
    const skipped = (await trail(taskId)).find((e) => e.type === 'StepSkipped');
    expect(skipped?.data).toMatchObject({ failedDependency: 'b', reason: 'dependency b failed' });

    // a dead letter with what is needed to act on it
    const dl = await h.api<{ deadLetters: Record<string, unknown>[] }>('GET', '/dead-letters');
    const mine = dl.body.deadLetters.find((d) => d.taskId === taskId);
    expect(mine).toMatchObject({
      run: 1,
      status: 'OPEN',
      goal: 'redrive me',
      failedSteps: expect.arrayContaining([
        expect.objectContaining({ stepId: 'b', status: 'FAILED' }),
        expect.objectContaining({ stepId: 'c', status: 'SKIPPED' }),
      ]),
      links: { redrive: `/tasks/${taskId}/redrive` },
    });

    // Act: redrive
    const redrive = await h.api('POST', `/tasks/${taskId}/redrive`);
    expect(redrive.status).toBe(202);
    expect(redrive.body).toMatchObject({ status: 'QUEUED', run: 2 });
    const done = (await h.waitFor(taskId, ['SUCCEEDED', 'FAILED', 'DEGRADED'])) as Task;
    const again = (await h.waitFor(taskId, ENDED)) as Task;

    // Assess: succeeded steps did not run again; b ran its next attempt
    expect(done.status === 'SUCCEEDED' || again.status === 'SUCCEEDED').toBe(true);
    const final = (await h.waitFor(taskId, ['SUCCEEDED'])) as Task;
    expect(final.plan.steps.every((s) => s.status === 'SUCCEEDED')).toBe(true);
    const events = await trail(taskId);
    const starts = (id: string) =>
      events.filter((e) => e.type === 'StepStarted' && e.stepId === id).map((e) => e.data.attempt);
    expect(starts('a')).toEqual([1]);
    expect(starts('d')).toEqual([1]);
    expect(starts('b')).toEqual([1, 2]);
    expect(starts('c')).toEqual([1]);
    expect(events.map((e) => e.type)).toContain('TaskRedriven');
    const after = await h.api<{ deadLetters: { taskId: string }[] }>('GET', '/dead-letters');
    expect(after.body.deadLetters.some((d) => d.taskId === taskId)).toBe(false);
    expect((await h.api('POST', `/tasks/${taskId}/redrive`)).status).toBe(409);
  });
});

describe('cancellation', () => {
  it('stops a running task: waiting steps end CANCELLED, the running result is discarded; idempotent', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'cancel me',
      plan: {
        steps: [
          { id: 'long', agent: 'sleep', input: { ms: 1500 } },
          { id: 'next', agent: 'echo', dependsOn: ['long'] },
        ],
      },
    });
    for (;;) {
      const t = (await h.api('GET', `/tasks/${taskId}`)).body as Task;
      if (step(t, 'long').status === 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Act
    const res = await h.api('POST', `/tasks/${taskId}/cancel`);
    // Assess
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ taskId, status: 'CANCELLED' });
    await new Promise((r) => setTimeout(r, 2000)); // let the sleeping agent return
    const task = (await h.api('GET', `/tasks/${taskId}`)).body as Task;
    expect(task.status).toBe('CANCELLED');
    expect(task.plan.steps.map((s) => s.status)).toEqual(['CANCELLED', 'CANCELLED']);
    const events = await trail(taskId);
    expect(events.some((e) => e.type === 'StepSucceeded')).toBe(false);
    expect(events.filter((e) => e.type === 'TaskCancelled')).toHaveLength(1);
    const exec = await h.rt.stepFunctions.handle('DescribeExecution', {
      executionArn: `${h.rt.stateMachineArn.replace(':stateMachine:', ':execution:')}:${taskId}-r1`,
    });
    expect(exec.status).toBe('ABORTED');
    const again = await h.api('POST', `/tasks/${taskId}/cancel`);
    expect(again.status).toBe(202);
    expect((await trail(taskId)).filter((e) => e.type === 'TaskCancelled')).toHaveLength(1);
  });

  it('refuses to cancel a task that already ended', async () => {
    const taskId = await submit({ goal: 'quick', plan: { steps: [{ id: 'a', agent: 'echo' }] } });
    await h.waitFor(taskId, ['SUCCEEDED']);
    const res = await h.api('POST', `/tasks/${taskId}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('already ended SUCCEEDED');
  });
});

describe('at-least-once delivery, exactly-once effects', () => {
  it('ignores a duplicated intake message: one execution, one run of each step', async () => {
    const taskId = await submit({
      goal: 'dup',
      plan: { steps: [{ id: 'a', agent: 'sleep', input: { ms: 300 } }] },
    });
    const sqs = new SQSClient({});
    const task = (await h.api('GET', `/tasks/${taskId}`)).body as { traceId: string };
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: process.env.INTAKE_QUEUE_URL,
        MessageBody: JSON.stringify({ taskId, run: 1, traceId: task.traceId }),
      }),
    );
    await h.waitFor(taskId, ['SUCCEEDED']);
    await new Promise((r) => setTimeout(r, 1500)); // the duplicate is consumed too
    const events = await trail(taskId);
    expect(events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'StepStarted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'StepSucceeded')).toHaveLength(1);
  });

  it('accepts a burst of submissions and drains them all', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        submit({ goal: `burst ${i}`, plan: { steps: [{ id: 'a', agent: 'echo' }] } }),
      ),
    );
    const tasks = await Promise.all(ids.map((id) => h.waitFor(id, ENDED, 120_000)));
    expect(tasks.map((t) => t.status)).toEqual(ids.map(() => 'SUCCEEDED'));
  });
});
