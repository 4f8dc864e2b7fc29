/**
 * An approval gate survives a crash of the local runtime: killed with SIGKILL while a step
 * waits for its approval and started again on the same data directory, the same approval (and
 * link) still decides the step, and nothing is requested or run twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RuntimeProcesses, runtimeProcesses, until } from './process.js';

let procs: RuntimeProcesses;
beforeAll(async () => {
  procs = await runtimeProcesses('crash-key');
});
afterAll(() => procs?.cleanup());

type Event = { type: string; stepId?: string; data: Record<string, unknown> };

describe('kill -9 while a step waits for its approval', () => {
  it('keeps the approval and its link: after the restart the same decision runs the step once', async () => {
    // Prepare: a -> b, b gated; the runtime is killed while b waits
    const port = procs.port;
    const base = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: 'Bearer crash-key', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const first = await procs.start();
    const created = await api('POST', '/tasks', {
      goal: 'survive a crash',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'b', agent: 'echo', dependsOn: ['a'], approval: 'before' },
        ],
      },
    });
    const taskId = String(created.body.taskId);
    const approval = await until('the approval', async () => {
      const list = await api('GET', '/approvals?status=PENDING');
      return (list.body.approvals as { id: string; taskId: string; url: string }[]).find(
        (a) => a.taskId === taskId,
      );
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // Act: restart, open the same link, approve through its form
    await procs.start();
    const shown = await fetch(approval.url);
    const html = await shown.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
    const decided = await fetch(`${base}/approvals/${approval.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({
        csrf: field('csrf'),
        exp: field('exp'),
        sig: field('sig'),
        decision: 'approve',
        approver: 'Ada',
      }),
    });
    const task = await until('the end of the task', async () => {
      const t = await api('GET', `/tasks/${taskId}`);
      return ['SUCCEEDED', 'FAILED'].includes(String(t.body.status)) ? t.body : undefined;
    });

    // Assess
    expect(shown.status).toBe(200);
    expect(decided.status).toBe(200);
    expect(task.status).toBe('SUCCEEDED');
    const events = (await api('GET', `/tasks/${taskId}/events?limit=1000`)).body.events as Event[];
    expect(events.some((e) => e.type === 'ExecutionResumed')).toBe(true);
    expect(events.filter((e) => e.type === 'ApprovalRequested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ApprovalDecided').map((e) => e.data.approver)).toEqual(['Ada']);
    expect(events.filter((e) => e.type === 'StepStarted').map((e) => e.stepId)).toEqual(['a', 'b']);
  });
});
