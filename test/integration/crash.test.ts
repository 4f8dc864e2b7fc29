/**
 * Crash recovery: the local runtime is killed with SIGKILL in the middle of a task and started
 * again on the same data directory. Nothing accepted is lost, no succeeded step runs again, and
 * the audit trail shows the interruption.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RuntimeProcesses, runtimeProcesses, until } from './process.js';

let procs: RuntimeProcesses;
beforeAll(async () => {
  procs = await runtimeProcesses('crash-key');
});
afterAll(() => procs?.cleanup());

function client(port: number) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: 'Bearer crash-key', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test reads loosely typed JSON responses
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
}

describe('kill -9 in the middle of a task', () => {
  it('finishes the task after a restart without re-running succeeded steps, and loses no accepted task', async () => {
    // Prepare: a runtime process and a task whose second step is long
    const port = procs.port;
    const first = await procs.start();
    const api = client(port);
    const submitted = await api('POST', '/tasks', {
      goal: 'survive a crash',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'b', agent: 'sleep', input: { ms: 3000 }, dependsOn: ['a'] },
          { id: 'c', agent: 'echo', dependsOn: ['b'] },
        ],
      },
    });
    expect(submitted.status).toBe(202);
    const taskId = submitted.body.taskId as string;
    await until('step b to run', async () => {
      const t = (await api('GET', `/tasks/${taskId}`)).body;
      return t.plan.steps.find((s: { id: string }) => s.id === 'b')?.status === 'RUNNING' ? true : undefined;
    });
    // a second task, accepted just before the crash
    const late = await api('POST', '/tasks', {
      goal: 'accepted before the crash',
      plan: { steps: [{ id: 'x', agent: 'echo' }] },
    });
    expect(late.status).toBe(202);

    // Act: SIGKILL, then start again on the same data directory
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await procs.start();

    // Assess
    const done = await until('the task to end', async () => {
      const t = (await api('GET', `/tasks/${taskId}`)).body;
      return ['SUCCEEDED', 'FAILED', 'DEGRADED'].includes(t.status) ? t : undefined;
    });
    expect(done.status).toBe('SUCCEEDED');
    const events = (await api('GET', `/tasks/${taskId}/events?limit=1000`)).body.events as {
      type: string;
      stepId?: string;
      data: Record<string, unknown>;
    }[];
    const runsOf = (id: string) => events.filter((e) => e.type === 'StepSucceeded' && e.stepId === id).length;
    expect(runsOf('a')).toBe(1);
    expect(runsOf('b')).toBe(1);
    expect(runsOf('c')).toBe(1);
    // step b was running at the kill: its attempt ran again after the restart, and the trail says so
    const startsOf = (id: string) =>
      events.filter((e) => e.type === 'StepStarted' && e.stepId === id).map((e) => e.data.rerun ?? 0);
    expect(startsOf('a')).toEqual([0]);
    expect(startsOf('b')).toEqual([0, 1]);
    const resumed = events.filter((e) => e.type === 'ExecutionResumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.data.reason).toMatch(/restarted/);
    // step a's agent ran once: its attempt produced exactly one set of artifacts
    const arts = (await api('GET', `/tasks/${taskId}/artifacts`)).body.artifacts as { stepId: string }[];
    expect(arts.filter((x) => x.stepId === 'a')).toHaveLength(2);

    const lateTask = await until('the late task to end', async () => {
      const t = (await api('GET', `/tasks/${late.body.taskId}`)).body;
      return ['SUCCEEDED', 'FAILED'].includes(t.status) ? t : undefined;
    });
    expect(lateTask.status).toBe('SUCCEEDED');
  });
});
