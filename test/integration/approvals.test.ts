/**
 * Human in the loop through the local runtime running the synthesized state machine: step and
 * plan approval gates, signed single-use links and their pages, the approvals API, timeouts
 * (reject and escalate), human review of a failed step, and the task token never leaving the
 * backend.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signApprovalLink } from '../../lambdas/core/approvals.js';
import { type StepView, TaskView } from '../../lambdas/core/schemas.js';
import { type ObservedHarness, startObservedHarness } from './observed.js';

let h: ObservedHarness;
/** Every task token seen in the store while gates waited: none may appear in what left the runtime. */
const tokens = new Set<string>();
const pages: string[] = [];

beforeAll(async () => {
  h = await startObservedHarness();
});
afterAll(async () => {
  await h?.close();
});

type Step = StepView;
type Task = TaskView;
type Event = { seq: number; type: string; stepId?: string; data: Record<string, unknown> };
type Listing = {
  id: string;
  taskId: string;
  stepId?: string;
  kind: string;
  requestedAt: string;
  expiresAt: string;
  url: string;
};

const ENDED = ['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'];
function stepOf(t: Task, id: string): Step {
  const step = t.plan.steps.find((s) => s.id === id);
  if (!step) throw new Error(`task ${t.taskId} has no step ${id}`);
  return step;
}
/** A step's output, a JSON object here. */
function outputOf(step: Step): Record<string, unknown> {
  const output = step.output;
  if (!output || typeof output !== 'object' || Array.isArray(output))
    throw new Error(`step ${step.id} has no object output`);
  return output;
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await h.api('POST', '/tasks', body);
  expect(res.status, res.text).toBe(202);
  return String(res.body.taskId);
}
async function ended(taskId: string): Promise<Task> {
  return TaskView.parse(await h.waitFor(taskId, (t) => ENDED.includes(String(t.status)), 'an end'));
}
async function trail(taskId: string): Promise<Event[]> {
  return (await h.api<{ events: Event[] }>('GET', `/tasks/${taskId}/events?limit=1000`)).body.events;
}
/** Waits until the task waits for an approval, remembers the tokens it holds, returns its pending approval. */
async function pendingApproval(taskId: string, kind: string): Promise<Listing> {
  await h.waitFor(taskId, (t) => t.status === 'AWAITING_APPROVAL', 'AWAITING_APPROVAL');
  for (;;) {
    const list = await h.api<{ approvals: Listing[] }>('GET', '/approvals?status=PENDING');
    const mine = list.body.approvals.find((a) => a.taskId === taskId && a.kind === kind);
    if (mine) {
      for (const t of await h.tokens(taskId)) tokens.add(t);
      return mine;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
async function page(url: string) {
  const res = await h.http('GET', url);
  pages.push(res.text);
  return res;
}
function formOf(html: string): Record<string, string> {
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
  return { csrf: field('csrf'), exp: field('exp'), sig: field('sig') };
}
const pathOf = (url: string) => new URL(url).pathname;
/** What a browser sends when the page's own form is submitted. */
function browserPost(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return h
    .http('POST', pathOf(url), {
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'null', // the page is served with Referrer-Policy: no-referrer
        'sec-fetch-site': 'same-origin',
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    })
    .then((res) => {
      pages.push(res.text);
      return res;
    });
}

describe('step approval gate', () => {
  it('stops at AWAITING_APPROVAL, shows the step on GET without changing anything, runs after approval through the page, and is single-use', async () => {
    // Prepare: a -> b, b gated
    const taskId = await submit({
      goal: 'Publish the <launch> post',
      plan: {
        steps: [
          { id: 'a', agent: 'echo', input: { draft: 'v1' } },
          { id: 'b', agent: 'echo', input: { channel: 'blog' }, dependsOn: ['a'], approval: 'before' },
        ],
      },
    });
    const approval = await pendingApproval(taskId, 'step');
    const waiting = await h.task(taskId);
    expect(waiting.status).toBe('AWAITING_APPROVAL');
    expect(stepOf(waiting, 'a').status).toBe('SUCCEEDED');
    expect(stepOf(waiting, 'b').status).toBe('AWAITING_APPROVAL');
    expect(approval).toMatchObject({ stepId: 'b', kind: 'step' });
    const listed = await h.api<{ tasks: { taskId: string }[] }>('GET', '/tasks?status=AWAITING_APPROVAL');
    expect(listed.body.tasks.map((t) => t.taskId)).toContain(taskId);
    expect(approval.url).toMatch(
      new RegExp(`^${h.rt.url}/approvals/${approval.id}\\?exp=\\d+&sig=[\\w-]{43}$`),
    );

    // Act: a mail scanner prefetches the link, twice
    const first = await page(approval.url);
    await page(approval.url);

    // Assess: a page with what is being approved; nothing changed
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toContain('text/html');
    expect(first.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.text).toContain('Publish the &lt;launch&gt; post');
    expect(first.text).toContain('echo a (attempt 1)'); // the upstream summary
    expect(first.text).toContain('&quot;channel&quot;: &quot;blog&quot;'); // the step input
    const after = await h.task(taskId);
    expect(after.status).toBe('AWAITING_APPROVAL');
    expect(
      (await trail(taskId)).some(
        (e) => e.type === 'ApprovalDecided' || (e.type === 'StepStarted' && e.stepId === 'b'),
      ),
    ).toBe(false);

    // Act: the approver submits the page's form
    const form = { ...formOf(first.text), decision: 'approve', approver: 'Ada Lovelace', comment: 'ship it' };
    const decided = await browserPost(approval.url, form);

    // Assess: recorded, the step ran, the task completed
    expect(decided.status).toBe(200);
    expect(decided.text).toContain('Approved');
    expect(decided.text).toContain('Ada Lovelace');
    const done = await ended(taskId);
    expect(done.status).toBe('SUCCEEDED');
    expect(stepOf(done, 'b')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    const events = await trail(taskId);
    const requested = events.find((e) => e.type === 'ApprovalRequested');
    const decision = events.find((e) => e.type === 'ApprovalDecided');
    expect(requested).toMatchObject({
      stepId: 'b',
      data: { approvalId: approval.id, kind: 'step', round: 1, onTimeout: 'reject' },
    });
    expect(decision).toMatchObject({
      stepId: 'b',
      data: {
        approvalId: approval.id,
        decision: 'approve',
        approver: 'Ada Lovelace',
        comment: 'ship it',
        via: 'link',
      },
    });
    const started = events.find((e) => e.type === 'StepStarted' && e.stepId === 'b');
    expect(started?.seq).toBeGreaterThan(decision?.seq ?? Number.MAX_SAFE_INTEGER);

    // Act + Assess: a second decision, through the page or the API, is refused with what, who, when
    const again = await browserPost(approval.url, { ...form, decision: 'reject', approver: 'Mallory' });
    expect(again.status).toBe(409);
    expect(again.text).toContain('Already decided');
    expect(again.text).toContain('Ada Lovelace');
    const viaApi = await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'reject' });
    expect(viaApi.status).toBe(409);
    expect(viaApi.body).toMatchObject({
      decided: { decision: 'approve', approver: 'Ada Lovelace', via: 'link' },
    });
    expect((await page(approval.url)).status).toBe(409);
  });

  it('refuses tampered (403), expired (410) and cross-site (403) requests without leaking the task; a rejection fails the step with the comment', async () => {
    // Prepare: a gated step with a dependent
    const taskId = await submit({
      goal: 'Delete the staging database',
      plan: {
        steps: [
          { id: 'drop', agent: 'echo', approval: 'before' },
          { id: 'report', agent: 'echo', dependsOn: ['drop'] },
        ],
      },
    });
    const approval = await pendingApproval(taskId, 'step');
    const good = await page(approval.url);
    const form = { ...formOf(good.text), approver: 'Grace', decision: 'reject', comment: 'not on a Friday' };
    const url = new URL(approval.url);
    const sig = url.searchParams.get('sig') as string;
    const tampered = `${url.origin}${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    const secret = readFileSync(join(h.dataDir, 'approval-secret'), 'utf8').trim();
    const expired = signApprovalLink({
      baseUrl: h.rt.url,
      approvalId: approval.id,
      expiresAt: new Date(Date.now() - 60_000),
      secret,
    }).url;

    // Act
    const forged = await page(tampered);
    const old = await page(expired);
    const crossSite = await browserPost(approval.url, form, {
      'sec-fetch-site': 'cross-site',
      origin: 'https://evil.example',
    });
    const foreignOrigin = await h.http('POST', pathOf(approval.url), {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams(form).toString(),
    });
    const badCsrf = await browserPost(approval.url, { ...form, csrf: 'x'.repeat(43) });
    const forgedPost = await browserPost(approval.url, {
      ...form,
      sig: `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`,
    });

    // Assess: refused, and the refusal pages say nothing about the task
    expect(forged.status).toBe(403);
    expect(old.status).toBe(410);
    expect(crossSite.status).toBe(403);
    expect(foreignOrigin.status).toBe(403);
    expect(badCsrf.status).toBe(403);
    expect(forgedPost.status).toBe(403);
    for (const res of [forged, old, crossSite, foreignOrigin, badCsrf, forgedPost]) {
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.text).not.toContain(taskId);
      expect(res.text).not.toContain('staging');
      expect(res.text).not.toContain('drop');
    }
    expect((await h.task(taskId)).status).toBe('AWAITING_APPROVAL');

    // Act: the approver rejects through the page
    const rejected = await browserPost(approval.url, form);

    // Assess: the step failed with the reason, its dependent was skipped, the task failed
    expect(rejected.status).toBe(200);
    expect(rejected.text).toContain('Rejected');
    const done = await ended(taskId);
    expect(done.status).toBe('FAILED');
    expect(stepOf(done, 'drop')).toMatchObject({
      status: 'FAILED',
      attempts: 0,
      error: { name: 'Baton.ApprovalRejected' },
    });
    expect(stepOf(done, 'drop').error?.message).toContain('rejected by Grace: not on a Friday');
    expect(stepOf(done, 'report').status).toBe('SKIPPED');
    const events = await trail(taskId);
    expect(events.some((e) => e.type === 'StepStarted')).toBe(false);
    expect(events.find((e) => e.type === 'ApprovalDecided')?.data).toMatchObject({
      decision: 'reject',
      approver: 'Grace',
      via: 'link',
    });
  });
});

describe('approval timeouts', () => {
  it('rejects a gate that nobody decides within its 2 s timeout; the link is then gone', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'nobody answers',
      plan: { steps: [{ id: 'g', agent: 'echo', approval: 'before', approvalTimeoutSeconds: 2 }] },
    });
    const approval = await pendingApproval(taskId, 'step');
    // Act
    const done = await ended(taskId);
    // Assess
    expect(done.status).toBe('FAILED');
    expect(stepOf(done, 'g')).toMatchObject({ status: 'FAILED', error: { name: 'Baton.ApprovalTimedOut' } });
    const decided = (await trail(taskId)).filter((e) => e.type === 'ApprovalDecided');
    expect(decided.map((e) => e.data)).toEqual([
      expect.objectContaining({
        approvalId: approval.id,
        decision: 'reject',
        via: 'timeout',
        escalated: false,
      }),
    ]);
    expect((await page(approval.url)).status).toBe(410);
    const late = await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'approve' });
    expect(late.status).toBe(410);
  });

  it('escalates once when the policy says so (a second, escalated request), then rejects', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'escalate me',
      policy: { approvalTimeoutSeconds: 2, onApprovalTimeout: 'escalate' },
      plan: { steps: [{ id: 'e', agent: 'echo', approval: 'before' }] },
    });
    await pendingApproval(taskId, 'step');
    // Act
    const done = await ended(taskId);
    // Assess
    expect(done.status).toBe('FAILED');
    expect(stepOf(done, 'e').error).toMatchObject({ name: 'Baton.ApprovalTimedOut' });
    expect(stepOf(done, 'e').error?.message).toContain('after an escalation');
    const events = await trail(taskId);
    expect(
      events.filter((e) => e.type === 'ApprovalRequested').map((e) => [e.data.round, e.data.escalation]),
    ).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(
      events.filter((e) => e.type === 'ApprovalDecided').map((e) => [e.data.via, e.data.escalated]),
    ).toEqual([
      ['timeout', true],
      ['timeout', false],
    ]);
    expect(h.logs.some((l) => l.includes('ESCALATED') && l.includes(taskId))).toBe(true);
  });
});

describe('a dependent of an approval that takes longer than a day', () => {
  const DAY = 24 * 3600;

  it('keeps waiting through 25 h of engine time (its wait is bounded by the gate, not by 24 h) and runs after the approval', async () => {
    // Prepare: g waits up to 3 days for its approval; d depends on g.
    const taskId = await submit({
      goal: 'a slow approver',
      plan: {
        steps: [
          { id: 'g', agent: 'echo', approval: 'before', approvalTimeoutSeconds: 3 * DAY },
          { id: 'd', agent: 'echo', dependsOn: ['g'] },
        ],
      },
    });
    const approval = await pendingApproval(taskId, 'step');

    // Act: 25 hours pass on the engine's clock (every timer due by then fires), then g is approved.
    h.rt.stepFunctions.advanceClock(25 * 3600);
    await new Promise((r) => setTimeout(r, 1000));
    const meanwhile = await h.task(taskId);
    const decided = await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'approve' });
    const done = await ended(taskId);

    // Assess: after the 25 h nothing had timed out; then both steps ran.
    expect(meanwhile.status).toBe('AWAITING_APPROVAL');
    expect(stepOf(meanwhile, 'g').status).toBe('AWAITING_APPROVAL');
    expect(stepOf(meanwhile, 'd').status).toBe('WAITING');
    expect(decided.status).toBe(200);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.plan.steps.map((s) => [s.id, s.status])).toEqual([
      ['g', 'SUCCEEDED'],
      ['d', 'SUCCEEDED'],
    ]);
  });

  it('times out on that clock too: a gate whose one-day window passes on it is rejected', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'nobody answers for a day',
      plan: {
        steps: [
          { id: 'g', agent: 'echo', approval: 'before', approvalTimeoutSeconds: DAY },
          { id: 'd', agent: 'echo', dependsOn: ['g'] },
        ],
      },
    });
    await pendingApproval(taskId, 'step');
    // Act
    h.rt.stepFunctions.advanceClock(DAY + 1);
    const done = await ended(taskId);
    // Assess
    expect(done.status).toBe('FAILED');
    expect(stepOf(done, 'g')).toMatchObject({ status: 'FAILED', error: { name: 'Baton.ApprovalTimedOut' } });
    expect(stepOf(done, 'd').status).not.toBe('SUCCEEDED');
  });
});

describe('plan approval gate', () => {
  it('shows the plan to the approver and runs nothing before the approval', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'Plan first',
      policy: { requirePlanApproval: true },
      plan: {
        steps: [
          { id: 'collect', agent: 'echo' },
          { id: 'summarize', agent: 'writing', dependsOn: ['collect'] },
        ],
      },
    });
    const approval = await pendingApproval(taskId, 'plan');
    // Act
    const shown = await page(approval.url);
    // Assess: the plan is on the page; no step started
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('Approve the plan?');
    expect(shown.text).toMatch(/<td>collect<\/td><td>echo<\/td><td>—<\/td>/);
    expect(shown.text).toMatch(/<td>summarize<\/td><td>writing<\/td><td>collect<\/td>/);
    expect((await trail(taskId)).some((e) => e.type === 'StepStarted')).toBe(false);
    expect(approval.stepId).toBeUndefined();

    // Act: approve through the API
    const res = await h.api<{ approval: Record<string, unknown> }>(
      'POST',
      `/approvals/${approval.id}/decision`,
      {
        decision: 'approve',
        comment: 'plan looks right',
      },
    );
    // Assess
    expect(res.status).toBe(200);
    expect(res.body.approval).toMatchObject({
      id: approval.id,
      kind: 'plan',
      status: 'DECIDED',
      decision: { via: 'api', approver: 'api-key' },
    });
    expect(JSON.stringify(res.body)).not.toContain('taskToken');
    expect((await ended(taskId)).status).toBe('SUCCEEDED');
    const decided = (await trail(taskId)).find((e) => e.type === 'ApprovalDecided');
    expect(decided?.stepId).toBeUndefined();
    expect(decided?.data).toMatchObject({
      kind: 'plan',
      decision: 'approve',
      approver: 'api-key',
      via: 'api',
      comment: 'plan looks right',
    });
  });

  it('fails the task when the plan is rejected', async () => {
    const taskId = await submit({
      goal: 'bad plan',
      policy: { requirePlanApproval: true },
      plan: { steps: [{ id: 'x', agent: 'echo' }] },
    });
    const approval = await pendingApproval(taskId, 'plan');
    await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'reject', comment: 'wrong scope' });
    const done = await ended(taskId);
    expect(done.status).toBe('FAILED');
    expect(done.error).toEqual({
      name: 'Baton.ApprovalRejected',
      message: 'the plan was rejected by api-key: wrong scope',
    });
    expect((await trail(taskId)).some((e) => e.type === 'StepStarted')).toBe(false);
  });
});

describe('plan approval and redrive', () => {
  it('does not ask again for a plan approved in an earlier run', async () => {
    // Prepare: an approved plan whose only step fails its one attempt
    const taskId = await submit({
      goal: 'approve once',
      policy: { requirePlanApproval: true },
      plan: { steps: [{ id: 'f', agent: 'flaky', input: { failures: 1 }, retry: { maxAttempts: 1 } }] },
    });
    const approval = await pendingApproval(taskId, 'plan');
    await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'approve' });
    expect((await ended(taskId)).status).toBe('FAILED');
    // Act
    expect((await h.api('POST', `/tasks/${taskId}/redrive`)).status).toBe(202);
    const done = (await h.waitFor(
      taskId,
      (t) => t.status === 'SUCCEEDED' || t.status === 'AWAITING_APPROVAL',
      'run 2',
    )) as Task;
    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect((await trail(taskId)).filter((e) => e.type === 'ApprovalRequested')).toHaveLength(1);
  });
});

describe('human review of a failed step', () => {
  it('after the fallback failed too, a reviewer supplies the output and the task succeeds', async () => {
    // Prepare: s and its fallback always fail; t uses s's result
    const taskId = await submit({
      goal: 'review me',
      policy: { humanReviewOnFailure: true },
      plan: {
        steps: [
          { id: 's', agent: 'fail', fallbackAgent: 'fail', retry: { maxAttempts: 1 } },
          { id: 't', agent: 'echo', dependsOn: ['s'] },
        ],
      },
    });
    const approval = await pendingApproval(taskId, 'review');
    const waiting = await h.task(taskId);
    expect(stepOf(waiting, 's').status).toBe('AWAITING_APPROVAL');
    const shown = await page(approval.url);
    expect(shown.text).toContain('Review failed step s');
    expect(shown.text).toContain('s always fails');
    expect(shown.text).toContain('name="output"');

    // Act
    const res = await h.api('POST', `/approvals/${approval.id}/decision`, {
      decision: 'approve',
      summary: 'written by hand',
      output: { answer: 42 },
    });

    // Assess
    expect(res.status).toBe(200);
    const done = await ended(taskId);
    expect(done.status).toBe('SUCCEEDED');
    expect(stepOf(done, 's')).toMatchObject({
      status: 'SUCCEEDED',
      summary: 'written by hand',
      output: { answer: 42 },
    });
    expect(outputOf(stepOf(done, 't')).upstream).toEqual([
      { stepId: 's', summary: 'written by hand', artifacts: 0 },
    ]);
    const events = await trail(taskId);
    expect(
      events.filter((e) => e.type === 'StepAttemptFailed' && e.stepId === 's').map((e) => e.data.phase),
    ).toEqual(['agent', 'fallback']);
    expect(events.find((e) => e.type === 'StepSucceeded' && e.stepId === 's')?.data).toMatchObject({
      source: 'review',
      reviewedBy: 'api-key',
      approvalId: approval.id,
    });
  });

  it('grants one more attempt through the page', async () => {
    // Prepare: fails attempt 1 only; no automatic retry
    const taskId = await submit({
      goal: 'retry on review',
      policy: { humanReviewOnFailure: true },
      plan: { steps: [{ id: 'f', agent: 'flaky', input: { failures: 1 }, retry: { maxAttempts: 1 } }] },
    });
    const approval = await pendingApproval(taskId, 'review');
    const shown = await page(approval.url);
    // Act
    const res = await browserPost(approval.url, {
      ...formOf(shown.text),
      decision: 'retry',
      approver: 'Linus',
    });
    // Assess
    expect(res.status).toBe(200);
    expect(res.text).toContain('Retry granted');
    const done = await ended(taskId);
    expect(done.status).toBe('SUCCEEDED');
    expect(stepOf(done, 'f')).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 2,
      summary: 'succeeded on attempt 2',
    });
  });
});

describe('cancellation', () => {
  it('closes the gates of a cancelled task: its link is gone and nothing is listed', async () => {
    // Prepare
    const taskId = await submit({
      goal: 'cancel while waiting',
      plan: { steps: [{ id: 'w', agent: 'echo', approval: 'before' }] },
    });
    const approval = await pendingApproval(taskId, 'step');
    // Act
    const cancelled = await h.api('POST', `/tasks/${taskId}/cancel`);
    // Assess
    expect(cancelled.status).toBe(202);
    expect((await page(approval.url)).status).toBe(410);
    const list = await h.api<{ approvals: Listing[] }>('GET', '/approvals?status=PENDING');
    expect(list.body.approvals.some((a) => a.taskId === taskId)).toBe(false);
    const late = await h.api('POST', `/approvals/${approval.id}/decision`, { decision: 'approve' });
    expect(late.status).toBe(410);
    const task = await h.task(taskId);
    expect(task.status).toBe('CANCELLED');
    expect(stepOf(task, 'w').status).toBe('CANCELLED');
  });
});

describe('task tokens stay inside', () => {
  it('never appear in an API response, a page or a log line', () => {
    // Assess: the search is not vacuous, and finds nothing
    expect(tokens.size).toBeGreaterThan(3);
    expect(pages.length).toBeGreaterThan(10);
    expect(h.logs.some((l) => l.includes('approval needed'))).toBe(true);
    const haystacks = { responses: h.responses, pages, logs: h.logs };
    for (const token of tokens) {
      expect(token.length).toBeGreaterThan(20);
      for (const [where, texts] of Object.entries(haystacks)) {
        expect(
          texts.filter((t) => t.includes(token)),
          `token found in ${where}`,
        ).toEqual([]);
      }
    }
  });
});
