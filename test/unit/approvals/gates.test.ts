/**
 * Approval gates: the task/step status fold, the same-origin check of the link POST, the review
 * rules of a decision, the gate timeout, how ResolveApproval reads a gate that ended (races with a
 * decision, escalation), and the store's single-use transition.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ApprovalNotification,
  ConsoleApprovalNotifier,
  snsPublishInput,
} from '../../../lambdas/adapters/notifier.js';
import { TaskStore } from '../../../lambdas/adapters/store.js';
import { WorkflowClient } from '../../../lambdas/adapters/workflow.js';
import { isSameOriginPost } from '../../../lambdas/api/approvals.js';
import {
  approvalTimeoutSeconds,
  decideTransition,
  newApprovalId,
  parseLinkDecisionForm,
} from '../../../lambdas/core/approvals.js';
import { ValidationError } from '../../../lambdas/core/errors.js';
import { Events, type NewEvent, recordedEvent, type TaskEvent } from '../../../lambdas/core/events.js';
import { foldTask } from '../../../lambdas/core/fold.js';
import { validatePlan } from '../../../lambdas/core/plan.js';
import type { ApprovalItem, StoredTask } from '../../../lambdas/core/ports.js';
import type { Plan } from '../../../lambdas/core/schemas.js';
import { requestApproval, resolveApproval } from '../../../lambdas/orchestrator/approvals.js';
import { recordAttemptFailure } from '../../../lambdas/orchestrator/steps.js';
import { MemoryStore } from '../../fakes/memory-store.js';

const plan = validatePlan(
  {
    steps: [
      { id: 'a', agent: 'echo', approval: 'before' },
      { id: 'b', agent: 'echo', approval: 'before' },
    ],
  },
  { knownAgents: new Set(['echo']), source: 'explicit' },
);
const meta = { taskId: 't1', goal: 'g', createdAt: '2030-01-01T00:00:00.000Z', traceId: 'tr' };

describe('folding approvals', () => {
  let seq = 0;
  const ev = (e: NewEvent): TaskEvent => {
    seq += 1;
    return recordedEvent(e, seq, `2030-01-01T00:00:${String(seq).padStart(2, '0')}.000Z`);
  };
  const task = (run = 1) => ({ taskId: 't1', traceId: 'tr', run });
  const gate = (stepId: string) => ({ ...task(), stepId });
  const times = { requestedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-02T00:00:00.000Z' };
  const requested = (stepId: string, approvalId: string) =>
    Events.approvalRequested(gate(stepId), {
      approvalId,
      kind: 'step',
      round: 1,
      escalation: false,
      ...times,
      timeoutSeconds: 86400,
      onTimeout: 'escalate',
    });
  const decided = (stepId: string, approvalId: string, decision: 'approve' | 'reject', escalated?: true) =>
    Events.approvalDecided(gate(stepId), {
      approvalId,
      kind: 'step',
      round: 1,
      decision,
      approver: escalated ? 'baton:timeout' : 'Ada',
      via: escalated ? 'timeout' : 'api',
      at: times.expiresAt,
      ...(escalated ? { escalated } : {}),
    });
  const planned = (run = 1) =>
    Events.planCreated(task(run), {
      source: 'explicit',
      steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })),
    });
  const failure = { name: 'Baton.Rejected', message: 'rejected' };

  it('is AWAITING_APPROVAL while any gate waits, and RUNNING again when the last one is decided', () => {
    // Prepare: two gates at once
    const base = [
      ev(Events.taskSubmitted(task(), { goal: 'g', explicitPlan: true })),
      ev(planned()),
      ev(requested('a', 'A')),
      ev(requested('b', 'B')),
    ];
    const oneDecided = [...base, ev(decided('a', 'A', 'approve'))];
    const bothDecided = [
      ...oneDecided,
      ev(decided('b', 'B', 'reject')),
      ev(
        Events.stepFailed(gate('b'), { attempts: 0, error: failure, reason: 'rejected', phase: 'approval' }),
      ),
    ];
    // Act
    const [waiting, still, running] = [base, oneDecided, bothDecided].map((events) =>
      foldTask(meta, plan, events),
    );
    // Assess
    expect(waiting?.status).toBe('AWAITING_APPROVAL');
    expect(waiting?.plan.steps.map((s) => s.status)).toEqual(['AWAITING_APPROVAL', 'AWAITING_APPROVAL']);
    expect(still?.status).toBe('AWAITING_APPROVAL');
    expect(still?.plan.steps.map((s) => s.status)).toEqual(['RUNNING', 'AWAITING_APPROVAL']);
    expect(running?.status).toBe('RUNNING');
    expect(running?.plan.steps.map((s) => s.status)).toEqual(['RUNNING', 'FAILED']);
  });

  it('keeps a step waiting through an escalation, and ends with the task whatever still waits', () => {
    const escalating = [
      ev(planned()),
      ev(requested('a', 'A1')),
      ev(decided('a', 'A1', 'reject', true)),
      ev(requested('a', 'A2')),
    ];
    expect(foldTask(meta, plan, escalating).plan.steps[0]?.status).toBe('AWAITING_APPROVAL');
    const cancelled = foldTask(meta, plan, [
      ...escalating,
      ev(Events.taskCancelled(task(), { run: 1, previousStatus: 'AWAITING_APPROVAL' })),
    ]);
    expect(cancelled.status).toBe('CANCELLED');
    const redriven = [
      ev(Events.taskFailed(task(), { error: failure })),
      ev(Events.taskRedriven(task(2), { run: 2, previousRun: 1, previousStatus: 'FAILED' })),
      ev(planned(2)),
    ];
    expect(foldTask(meta, plan, [...escalating, ...redriven]).status).toBe('RUNNING');
  });
});

describe('the link POST comes from our own page', () => {
  const ours = ['https://api.example.com'];
  it.each([
    [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, true],
    [{ 'sec-fetch-site': 'cross-site', origin: 'https://api.example.com' }, false],
    [{ 'sec-fetch-site': 'same-site' }, false],
    [{ 'sec-fetch-site': 'none' }, false],
    [{ origin: 'https://api.example.com' }, true],
    [{ origin: 'https://evil.example' }, false],
    [{ origin: 'null' }, false],
    [{}, true],
  ])('%j -> %s', (headers, expected) => {
    expect(isSameOriginPost(headers, ours)).toBe(expected);
  });
});

describe('decisions by gate kind', () => {
  const record = (kind: 'step' | 'plan' | 'review') => ({
    id: newApprovalId(),
    taskId: 't1',
    ...(kind === 'plan' ? {} : { stepId: 'a' }),
    kind,
    status: 'PENDING' as const,
    requestedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: '2030-01-02T00:00:00.000Z',
  });
  const now = new Date('2030-01-01T01:00:00.000Z');

  it('lets a review accept a replacement output or grant a retry', () => {
    const accepted = decideTransition(
      record('review'),
      { decision: 'approve', approver: 'Ada', via: 'api', summary: 'by hand', output: { n: 1 } },
      now,
    );
    const retried = decideTransition(
      record('review'),
      { decision: 'retry', approver: 'Ada', via: 'link' },
      now,
    );
    expect(accepted.ok && accepted.decision).toMatchObject({
      decision: 'approve',
      summary: 'by hand',
      output: { n: 1 },
    });
    expect(retried.ok && retried.record.status).toBe('DECIDED');
  });

  it('refuses retry and replacement outputs outside review gates, and outputs without approve', () => {
    const attempts = [
      () => decideTransition(record('step'), { decision: 'retry', approver: 'Ada', via: 'api' }, now),
      () =>
        decideTransition(
          record('plan'),
          { decision: 'approve', approver: 'Ada', via: 'api', output: { n: 1 } },
          now,
        ),
      () =>
        decideTransition(
          record('review'),
          { decision: 'reject', approver: 'Ada', via: 'api', summary: 'x' },
          now,
        ),
      () =>
        decideTransition(
          record('review'),
          { decision: 'approve', approver: 'Ada', via: 'api', output: 'x'.repeat(40_000) },
          now,
        ),
    ];
    for (const attempt of attempts) expect(attempt).toThrow(ValidationError);
  });

  it('reads a review form: output is JSON text, blank is absent', () => {
    const base = {
      csrf: 'c'.repeat(43),
      exp: '1893542400',
      sig: 's'.repeat(43),
      decision: 'approve',
      approver: 'Ada',
    };
    expect(
      parseLinkDecisionForm(new URLSearchParams({ ...base, output: '{"n": 1}', summary: 'done' }).toString()),
    ).toMatchObject({
      output: { n: 1 },
      summary: 'done',
    });
    const blank = parseLinkDecisionForm(
      new URLSearchParams({ ...base, output: '  ', summary: '' }).toString(),
    );
    expect([blank.output, blank.summary]).toEqual([undefined, undefined]);
    expect(() => parseLinkDecisionForm(new URLSearchParams({ ...base, output: '{oops' }).toString())).toThrow(
      ValidationError,
    );
  });

  it('waits the step timeout, else the policy timeout, else 24 h', () => {
    expect(approvalTimeoutSeconds({ approvalTimeoutSeconds: 60 }, { approvalTimeoutSeconds: 5 })).toBe(5);
    expect(approvalTimeoutSeconds({ approvalTimeoutSeconds: 60 }, {})).toBe(60);
    expect(approvalTimeoutSeconds({})).toBe(24 * 3600);
  });
});

/** The in-memory store (checked against the DynamoDB adapters by test/contract/store.test.ts), with a task and its plan. */
async function storeWith(task: StoredTask, plan: Plan): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.createTask(task, {});
  await store.putPlan(task.taskId, plan);
  return store;
}

/** Puts an approval in the store the way the gates leave it: created PENDING with a token, then moved on. */
async function seedApproval(store: MemoryStore, item: ApprovalItem): Promise<void> {
  const { status, decision, escalated, closedReason, ...rest } = item;
  await store.createApproval({ ...rest, status: 'PENDING', taskToken: rest.taskToken ?? 'tok' });
  if (status !== 'PENDING') {
    await store.transitionApproval(item, {
      status,
      ...(decision ? { decision } : {}),
      ...(escalated !== undefined ? { escalated } : {}),
      ...(closedReason !== undefined ? { closedReason } : {}),
    });
  }
}

/** A store whose first event write fails: a Lambda that crashed right after creating an approval. */
class CrashingEventStore extends MemoryStore {
  private crashes = 1;
  override async appendEvent(e: NewEvent) {
    if (this.crashes-- > 0) throw new Error('crashed');
    return super.appendEvent(e);
  }
}

/** What the store recorded for task t1: its events, results and approvals. */
const eventsOf = (store: MemoryStore) => store.allEvents('t1');
const resultsOf = (store: MemoryStore) => store.getResults('t1');
const approvalsOf = (store: MemoryStore) => store.listTaskApprovals('t1');

/** Step Functions, mocked at the SDK: the gates answer task tokens through the real WorkflowClient. */
const sfn = mockClient(SFNClient);
const workflow = new WorkflowClient(
  new SFNClient({ region: 'us-east-1' }),
  'arn:aws:states:us-east-1:111111111111:stateMachine:baton',
);
/** The task tokens the code answered: [succeed|fail, token, output|error]. */
const answered = () => [
  ...sfn
    .commandCalls(SendTaskSuccessCommand)
    .map((c) => ['succeed', c.args[0].input.taskToken, JSON.parse(c.args[0].input.output ?? 'null')]),
  ...sfn
    .commandCalls(SendTaskFailureCommand)
    .map((c) => ['fail', c.args[0].input.taskToken, c.args[0].input.error]),
];
beforeEach(() => sfn.reset());

describe('ResolveApproval', () => {
  const task: StoredTask = {
    ...meta,
    status: 'RUNNING',
    updatedAt: meta.createdAt,
    policy: {},
    run: 1,
    requestHash: 'h',
  };
  const single = validatePlan(
    { steps: [{ id: 'a', agent: 'echo', approval: 'before' }] },
    { knownAgents: new Set(['echo']), source: 'explicit' },
  );
  const pending = (over: Partial<ApprovalItem> = {}): ApprovalItem => ({
    id: newApprovalId(),
    taskId: 't1',
    stepId: 'a',
    kind: 'step',
    status: 'PENDING',
    requestedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: '2030-01-01T00:00:02.000Z',
    run: 1,
    round: 1,
    timeoutSeconds: 2,
    onTimeout: 'reject',
    taskToken: 'tok',
    ...over,
  });
  const timeout = { Error: 'States.Timeout', Cause: 'Task did not complete within TimeoutSeconds=2' };
  let store: MemoryStore;
  const deps = () => ({
    store,
    workflow,
    agentFunctions: {},
    now: () => new Date('2030-01-01T00:00:03.000Z'),
  });
  beforeEach(async () => {
    store = await storeWith(task, single);
  });

  it('honours a decision that reached the store before the timeout reached the execution', async () => {
    // Prepare: decided (approve) while the gate timed out
    await seedApproval(
      store,
      pending({
        status: 'DECIDED',
        decision: { decision: 'approve', approver: 'Ada', via: 'link', at: '2030-01-01T00:00:01.900Z' },
      }),
    );
    // Act
    const res = await resolveApproval(deps(), {
      taskId: 't1',
      run: 1,
      kind: 'step',
      stepId: 'a',
      error: timeout,
    });
    // Assess
    expect(res).toEqual({ action: 'run', error: null });
    expect(await eventsOf(store)).toEqual([]);
  });

  it('records the timeout once and escalates the first round when the policy says so', async () => {
    await seedApproval(store, pending({ onTimeout: 'escalate' }));
    const res = await resolveApproval(deps(), {
      taskId: 't1',
      run: 1,
      kind: 'step',
      stepId: 'a',
      error: timeout,
    });
    expect(res.action).toBe('escalate');
    expect((await approvalsOf(store))[0]).toMatchObject({
      status: 'EXPIRED',
      escalated: true,
      decision: { via: 'timeout', decision: 'reject' },
    });
    // the request is in the trail before its decision, even when nothing recorded it yet
    expect(
      (await eventsOf(store)).map((e) =>
        e.type === 'ApprovalDecided'
          ? [e.type, e.data.via, e.data.escalated]
          : [e.type, undefined, undefined],
      ),
    ).toEqual([
      ['ApprovalRequested', undefined, undefined],
      ['ApprovalDecided', 'timeout', true],
    ]);
    expect((await resultsOf(store)).size).toBe(0);
  });

  it('fails the step after the escalated round times out too', async () => {
    await seedApproval(store, pending({ round: 2, onTimeout: 'escalate' }));
    const res = await resolveApproval(deps(), {
      taskId: 't1',
      run: 1,
      kind: 'step',
      stepId: 'a',
      error: timeout,
    });
    expect(res.action).toBe('done');
    expect((await resultsOf(store)).get('a')).toMatchObject({
      status: 'FAILED',
      error: { name: 'Baton.ApprovalTimedOut' },
    });
    expect((await eventsOf(store)).map((e) => e.type)).toEqual([
      'ApprovalRequested',
      'ApprovalDecided',
      'StepFailed',
    ]);
  });

  it('turns a rejected plan into the error that FinalizeAfterError records', async () => {
    await seedApproval(
      store,
      pending({
        kind: 'plan',
        stepId: undefined,
        status: 'DECIDED',
        decision: { decision: 'reject', approver: 'Ada', comment: 'no', via: 'api', at: 'x' },
      }),
    );
    const res = await resolveApproval(deps(), {
      taskId: 't1',
      run: 1,
      kind: 'plan',
      error: { Error: 'Baton.ApprovalRejected', Cause: 'x' },
    });
    expect(res).toEqual({
      action: 'fail',
      error: { Error: 'Baton.ApprovalRejected', Cause: 'the plan was rejected by Ada: no' },
    });
  });

  it('closes the approval and fails the step when the gate failed for another reason', async () => {
    await seedApproval(store, pending());
    const res = await resolveApproval(deps(), {
      taskId: 't1',
      run: 1,
      kind: 'step',
      stepId: 'a',
      error: {
        Error: 'Baton.SigningSecretUnavailable',
        Cause: JSON.stringify({ errorMessage: 'no secret' }),
      },
    });
    expect(res.action).toBe('done');
    expect((await approvalsOf(store))[0]).toMatchObject({
      status: 'EXPIRED',
      closedReason: 'the gate failed: Baton.SigningSecretUnavailable',
    });
    expect((await resultsOf(store)).get('a')?.error).toEqual({
      name: 'Baton.SigningSecretUnavailable',
      message: 'no secret',
    });
  });
});

describe('TaskStore approvals (DynamoDB)', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const store = new TaskStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    'tbl',
  );
  beforeEach(() => ddb.reset());
  const item: ApprovalItem = {
    id: 'AbCdEfGhIjKlMnOpQrStUv',
    taskId: 't1',
    stepId: 'a',
    kind: 'step',
    status: 'PENDING',
    requestedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: '2030-01-01T00:01:00.000Z',
    run: 1,
    round: 1,
    timeoutSeconds: 60,
    onTimeout: 'reject',
  };

  it('decides once: a write conditional on PENDING that takes the token out and hands it to the winner', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolves({ Attributes: { taskToken: 'tok' } });
    // Act
    const won = await store.transitionApproval(item, {
      status: 'DECIDED',
      decision: { decision: 'approve', approver: 'Ada', via: 'api', at: 'x' },
    });
    // Assess
    expect(won).toEqual({ token: 'tok' });
    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      Key: { pk: 'TASK#t1', sk: 'APPROVAL#r1#step#a#0#1' },
      ConditionExpression: '#status = :pending',
      ReturnValues: 'ALL_OLD',
      ExpressionAttributeValues: expect.objectContaining({ ':s': 'DECIDED', ':g': 'APPROVALS#DECIDED' }),
    });
    expect(input?.UpdateExpression).toContain('REMOVE taskToken');
  });

  it('reports the loser of a race as undefined', async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    expect(await store.transitionApproval(item, { status: 'EXPIRED' })).toBeUndefined();
  });
});

describe('RequestApproval', () => {
  const task: StoredTask = {
    ...meta,
    status: 'RUNNING',
    updatedAt: meta.createdAt,
    policy: { approvalTimeoutSeconds: 60 },
    run: 1,
    requestHash: 'h',
  };
  const single = validatePlan(
    { steps: [{ id: 'a', agent: 'echo', approval: 'before' }] },
    { knownAgents: new Set(['echo']), source: 'explicit' },
  );
  let store: MemoryStore;
  let notified: ApprovalNotification[];
  const deps = () => ({
    store,
    workflow,
    agentFunctions: {},
    now: () => new Date('2030-01-01T00:00:00.000Z'),
    approvals: {
      secrets: async () => 'k'.repeat(32),
      notifier: { notify: async (n: ApprovalNotification) => void notified.push(n) },
      publicUrl: () => 'https://baton.example.com',
    },
  });
  const request = (token: string) => ({ taskId: 't1', run: 1, kind: 'step', stepId: 'a', taskToken: token });
  beforeEach(async () => {
    store = await storeWith(task, single);
    notified = [];
  });

  it('creates the approval with the token, records the request and sends the link (never the token)', async () => {
    // Act
    const res = await requestApproval(deps(), request('token-1'));
    // Assess
    expect(await approvalsOf(store)).toEqual([
      expect.objectContaining({
        id: res.approvalId,
        status: 'PENDING',
        taskToken: 'token-1',
        timeoutSeconds: 60,
        expiresAt: '2030-01-01T00:01:00.000Z',
      }),
    ]);
    expect((await eventsOf(store)).map((e) => e.type)).toEqual(['ApprovalRequested']);
    expect(notified).toHaveLength(1);
    expect(notified[0]?.url).toMatch(
      new RegExp(`^https://baton.example.com/approvals/${res.approvalId}\\?exp=1893456060&sig=`),
    );
    expect(JSON.stringify([res, await eventsOf(store), notified])).not.toContain('token-1');
  });

  it('hands a pending approval the new token of a resumed gate without telling approvers twice', async () => {
    await requestApproval(deps(), request('token-1'));
    await requestApproval(deps(), request('token-2'));
    const approvals = await approvalsOf(store);
    expect(approvals).toHaveLength(1);
    expect(approvals[0]?.taskToken).toBe('token-2');
    expect(notified).toHaveLength(1);
    expect(answered()).toEqual([]);
  });

  it('announces an approval whose request crashed before it was announced', async () => {
    // Prepare: the first request crashes after creating the approval, before its event and notification
    const crashing = new CrashingEventStore();
    await crashing.createTask(task, {});
    await crashing.putPlan('t1', single);
    store = crashing;
    await expect(requestApproval(deps(), request('token-1'))).rejects.toThrow('crashed');
    const [created] = await approvalsOf(store);
    // Act
    await requestApproval(deps(), request('token-2'));
    // Assess
    expect(created).toMatchObject({ status: 'PENDING', taskToken: 'token-1' });
    expect((await eventsOf(store)).map((e) => e.type)).toEqual(['ApprovalRequested']);
    expect(notified).toHaveLength(1);
  });

  it('answers a resumed gate at once from a decision made meanwhile', async () => {
    const { approvalId } = await requestApproval(deps(), request('token-1'));
    const [pendingOne] = await approvalsOf(store);
    if (!pendingOne) throw new Error('the first request created no approval');
    await store.transitionApproval(pendingOne, {
      status: 'DECIDED',
      decision: { decision: 'reject', approver: 'Ada', comment: 'no', via: 'link', at: 'x' },
    });
    await requestApproval(deps(), request('token-2'));
    expect(answered()).toEqual([['fail', 'token-2', 'Baton.ApprovalRejected']]);
    expect((await approvalsOf(store)).map((a) => a.id)).toEqual([approvalId]);
  });
});

describe('RecordAttemptFailure with policy.humanReviewOnFailure', () => {
  const task: StoredTask = {
    ...meta,
    status: 'RUNNING',
    updatedAt: meta.createdAt,
    policy: { humanReviewOnFailure: true },
    run: 1,
    requestHash: 'h',
  };
  const withFallback = validatePlan(
    { steps: [{ id: 'a', agent: 'echo', fallbackAgent: 'echo', retry: { maxAttempts: 3 } }] },
    { knownAgents: new Set(['echo']), source: 'explicit' },
  );
  const deps = (store: MemoryStore) => ({
    store,
    workflow,
    agentFunctions: { echo: 'fn-echo' },
  });
  const failure = (attempt: number, phase?: 'agent' | 'fallback') => ({
    taskId: 't1',
    run: 1,
    stepId: 'a',
    attempt,
    error: { Error: 'Baton.AgentFailed', Cause: 'boom' },
    ...(phase ? { phase } : {}),
  });
  const review = (attempt: number, decision?: 'retry' | 'reject'): ApprovalItem => ({
    id: newApprovalId(),
    taskId: 't1',
    stepId: 'a',
    kind: 'review',
    status: decision ? 'DECIDED' : 'PENDING',
    requestedAt: 'x',
    expiresAt: 'x',
    run: 1,
    round: 1,
    attempt,
    timeoutSeconds: 60,
    onTimeout: 'reject',
    ...(decision ? { decision: { decision, approver: 'Ada', via: 'api' as const, at: 'x' } } : {}),
  });

  it('sends the step to review when its fallback failed, without failing it', async () => {
    const store = await storeWith(task, withFallback);
    const res = await recordAttemptFailure(deps(store), failure(4, 'fallback'));
    expect(res).toMatchObject({ retry: false, useFallback: false, review: true, nextAttempt: 5 });
    expect(
      (await eventsOf(store)).map((e) => [
        e.type,
        e.type === 'StepAttemptFailed' ? e.data.willReview : undefined,
      ]),
    ).toEqual([['StepAttemptFailed', true]]);
    expect((await resultsOf(store)).size).toBe(0);
  });

  it('after a retry granted on review, goes back to review: no automatic retry, no second fallback', async () => {
    const store = await storeWith(task, withFallback);
    await seedApproval(store, review(2, 'retry'));
    const res = await recordAttemptFailure(deps(store), failure(2));
    expect(res).toMatchObject({ retry: false, useFallback: false, review: true, nextAttempt: 3 });
  });

  it('fails the step once it had the maximum number of reviews in the run', async () => {
    const store = await storeWith(task, withFallback);
    for (const attempt of [2, 3, 4]) await seedApproval(store, review(attempt, 'retry'));
    const res = await recordAttemptFailure(deps(store), failure(4));
    expect(res.review).toBe(false);
    expect((await resultsOf(store)).get('a')?.status).toBe('FAILED');
    expect((await eventsOf(store)).find((e) => e.type === 'StepFailed')?.data.reason).toContain('3 reviews');
  });
});

describe('notifications of reviews and escalations', () => {
  const base: ApprovalNotification = {
    approvalId: 'AbCdEfGhIjKlMnOpQrStUv',
    taskId: 'task-1',
    stepId: 'a',
    kind: 'review',
    goal: 'g',
    url: 'https://baton.example.com/approvals/AbCdEfGhIjKlMnOpQrStUv?exp=1&sig=s',
    expiresAt: new Date('2030-01-01T00:00:00.000Z'),
  };

  it('marks an escalation in the subject, the text and an attribute subscriptions can filter on', () => {
    const input = snsPublishInput('arn:aws:sns:eu-west-1:111111111111:t', { ...base, escalation: true });
    expect(input.Subject).toBe('ESCALATED Baton: review failed step a');
    expect(input.Message).toMatch(/^ESCALATION: nobody decided within the first timeout\./);
    expect(input.MessageAttributes?.escalation).toEqual({ DataType: 'String', StringValue: 'true' });
    expect(
      snsPublishInput('arn:aws:sns:eu-west-1:111111111111:t', base).MessageAttributes,
    ).not.toHaveProperty('escalation');
  });

  it('prints one line with the link locally', async () => {
    const lines: string[] = [];
    await new ConsoleApprovalNotifier((l) => lines.push(l)).notify({ ...base, escalation: true });
    expect(lines).toEqual([
      `[baton] ESCALATED: approval needed for review of failed step a of task task-1: open ${base.url} (expires 2030-01-01T00:00:00.000Z)`,
    ]);
  });
});
