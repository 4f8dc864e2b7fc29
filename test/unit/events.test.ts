import { describe, expect, it } from 'vitest';
import {
  callEventIdPrefix,
  Events,
  isItemEvent,
  type NewEvent,
  recordedEvent,
  TaskEvent,
  taskStatusEffect,
  withPendingApprovals,
} from '../../lambdas/core/events.js';
import { EventType } from '../../lambdas/core/schemas.js';

const task = { taskId: 't1', traceId: '1-abc-def', run: 2 };
const step = { ...task, stepId: 'a' };
const attempt = { ...step, attempt: 3 };
const error = { name: 'Baton.AgentFailed', message: 'flaky' };
const approvalId = 'AbCdEfGhIjKlMnOpQrStUv';
const artifact = {
  id: 'a_0123',
  stepId: 'a',
  name: 'out.md',
  contentType: 'text/markdown',
  size: 12,
  sha256: 'f'.repeat(64),
};

/** One event built by each constructor, with the fields the code writes today. */
const built = {
  taskSubmitted: Events.taskSubmitted(
    { ...task, run: 1 },
    { goal: 'g', explicitPlan: true, policy: { allowDegraded: true }, idempotencyKey: 'k1' },
  ),
  executionStarted: Events.executionStarted(task, {
    run: 2,
    executionName: 't1-r2',
    executionArn: 'arn:aws:states:us-east-1:1:execution:sm:t1-r2',
  }),
  planningStarted: Events.planningStarted(task),
  planCreated: Events.planCreated(task, {
    source: 'planner:offline',
    rationale: 'rules',
    steps: [{ id: 'a', agent: 'research', dependsOn: [] }],
  }),
  stepWaiting: Events.stepWaiting(step, { waitingFor: ['x'] }),
  stepReady: Events.stepReady(step),
  stepStarted: Events.stepStarted(attempt, { attempt: 3, agent: 'research', run: 2 }),
  stepAttemptFailed: Events.stepAttemptFailed(attempt, {
    attempt: 3,
    phase: 'agent',
    error,
    willRetry: true,
    retryInSeconds: 4,
    nextAttempt: 4,
    reason: 'retryable error',
    willReview: true,
  }),
  stepSucceeded: Events.stepSucceeded(step, {
    attempt: 3,
    agent: 'research',
    summary: 'done',
    output: { n: [1, 'two', null, { deep: true }] },
    artifacts: [artifact],
    source: 'review',
    approvalId,
    reviewedBy: 'Ada',
  }),
  stepFailed: Events.stepFailed(step, {
    attempts: 3,
    error,
    reason: 'rejected',
    phase: 'approval',
    approvalId,
  }),
  stepSkipped: Events.stepSkipped(step, {
    reason: 'dependency x failed',
    failedDependency: 'x',
    error: { name: 'Baton.DependencyFailed', message: 'dependency x failed' },
  }),
  artifactStored: Events.artifactStored(attempt, {
    artifactId: artifact.id,
    name: artifact.name,
    contentType: artifact.contentType,
    size: artifact.size,
    sha256: artifact.sha256,
  }),
  taskSucceeded: Events.taskSucceeded(task, {
    result: { steps: { a: { status: 'SUCCEEDED' } } },
    missing: [],
  }),
  taskDegraded: Events.taskDegraded(task, {
    result: { steps: { a: { status: 'FAILED', error } }, missing: ['a'] },
    missing: ['a'],
  }),
  taskFailed: Events.taskFailed(task, { error }),
  taskCancelled: Events.taskCancelled(task, { run: 2, previousStatus: 'RUNNING' }),
  executionResumed: Events.executionResumed(
    { ...task, resumedAt: '2026-01-01T00:00:00.000Z' },
    { run: 2, executionArn: 'arn:x', reason: 'restarted' },
  ),
  taskRedriven: Events.taskRedriven(task, { run: 2, previousRun: 1, previousStatus: 'FAILED' }),
  stepFallbackStarted: Events.stepFallbackStarted(step, {
    fallbackAgent: 'writing',
    attempt: 4,
    failure: { agent: 'research', ...error },
  }),
  deadLetterRecorded: Events.deadLetterRecorded(task, { run: 2, error, failedSteps: ['a'] }),
  approvalRequested: Events.approvalRequested(
    { ...task, stepId: 'a', attempt: 4 },
    {
      approvalId,
      kind: 'review',
      round: 1,
      escalation: false,
      requestedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-02T00:00:00.000Z',
      timeoutSeconds: 86400,
      onTimeout: 'escalate',
      attempt: 4,
      failure: error,
    },
  ),
  approvalDecided: Events.approvalDecided(task, {
    approvalId,
    kind: 'plan',
    round: 2,
    decision: 'reject',
    approver: 'baton:timeout',
    via: 'timeout',
    at: '2026-01-02T00:00:00.000Z',
    comment: 'no decision',
    escalated: true,
  }),
  toolCalled: Events.toolCalled(attempt, {
    call: 1,
    attempt: 3,
    tool: 'search',
    argsDigest: 'd'.repeat(64),
    durationMs: 3,
    outcome: 'error',
    error,
    startedAt: '2026-01-01T00:00:00.000Z',
  }),
  modelCalled: Events.modelCalled(task, {
    call: 2,
    model: 'offline',
    argsDigest: 'd'.repeat(64),
    tools: ['search'],
    durationMs: 1.5,
    outcome: 'ok',
    usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
    stopReason: 'end',
    stepTokensUsed: 3,
    taskTokensUsed: 10,
  }),
  fanOutStarted: Events.fanOutStarted(attempt, {
    attempt: 3,
    run: 2,
    agent: 'research',
    items: 'steps.a.artifacts.rows.csv',
    total: 1000,
    rerun: 30,
    maxConcurrency: 100,
    itemsPerBatch: 1,
    toleratedFailurePercentage: 5,
  }),
  fanOutItemFailed: Events.fanOutItemFailed({ ...attempt, index: 17 }, { index: 17, attempts: 3, error }),
  fanOutCompleted: Events.fanOutCompleted(attempt, {
    total: 1000,
    succeeded: 970,
    failed: 30,
    toleratedFailurePercentage: 5,
    withinTolerance: true,
    artifactId: 'a_0123',
  }),
} satisfies Record<keyof typeof Events, NewEvent>;

describe('events', () => {
  it('has one schema per event type in the union', () => {
    // Assess
    expect(TaskEvent.options.map((o) => o.shape.type.value)).toEqual(EventType.options);
    expect(Object.values(built).map((e) => e.type)).toEqual(EventType.options);
  });

  it.each(Object.entries(built))(
    '%s: the schema parses what the constructor builds, field for field',
    (_, e) => {
      // Prepare
      const stored = recordedEvent(e, 7, '2026-01-01T00:00:07.000Z');
      // Act
      const parsed = TaskEvent.safeParse(JSON.parse(JSON.stringify(stored)));
      // Assess
      expect(parsed.error).toBeUndefined();
      expect(parsed.data).toEqual(stored);
      expect(parsed.data).toMatchObject({
        seq: 7,
        at: '2026-01-01T00:00:07.000Z',
        taskId: 't1',
        traceId: '1-abc-def',
      });
    },
  );

  it('keeps the ids written today (deterministic: a retried write yields the same id)', () => {
    // Assess
    expect(built.taskSubmitted.id).toBe('r1.TaskSubmitted.-.-');
    expect(built.planCreated.id).toBe('r2.PlanCreated.-.-');
    expect(built.stepWaiting.id).toBe('r2.StepWaiting.a.-');
    expect(built.stepStarted.id).toBe('r2.StepStarted.a.3');
    expect(built.stepAttemptFailed.id).toBe('r2.StepAttemptFailed.a.3');
    expect(built.stepSucceeded.id).toBe('r2.StepSucceeded.a.-');
    expect(built.stepFallbackStarted.id).toBe('r2.StepFallbackStarted.a.-');
    expect(built.artifactStored.id).toBe('r2.ArtifactStored.a.3.a_0123');
    expect(built.executionResumed.id).toBe('r2.ExecutionResumed.-.-.2026-01-01T00:00:00.000Z');
    expect(built.approvalRequested.id).toBe(`r2.ApprovalRequested.a.4.${approvalId}`);
    expect(built.approvalDecided.id).toBe(`r2.ApprovalDecided.-.-.${approvalId}`);
    expect(built.toolCalled.id).toBe('r2.ToolCalled.a.3.1');
    expect(built.modelCalled.id).toBe('r2.ModelCalled.-.-.2');
    expect(built.fanOutStarted.id).toBe('r2.FanOutStarted.a.3');
    expect(built.fanOutItemFailed.id).toBe('r2.FanOutItemFailed.a.3.i17');
    expect(built.fanOutCompleted.id).toBe('r2.FanOutCompleted.a.3');
    expect(Events.stepStarted(attempt, built.stepStarted.data)).toEqual(built.stepStarted);
  });

  it('puts the step on the envelope only for events of a step', () => {
    // Assess
    expect(built.stepStarted.stepId).toBe('a');
    expect(built.approvalRequested.stepId).toBe('a');
    expect('stepId' in built.approvalDecided).toBe(false);
    expect('stepId' in built.modelCalled).toBe(false);
    expect('stepId' in recordedEvent(built.taskFailed, 1, '2026-01-01T00:00:00.000Z')).toBe(false);
  });

  it("puts the item on the envelope of item events only, and numbers an item's calls per item attempt", () => {
    // Prepare
    const site = { ...attempt, item: { index: 17, attempt: 2 } };
    // Act
    const call = Events.toolCalled(site, { ...built.toolCalled.data, call: 4 });
    // Assess
    expect(built.fanOutItemFailed.item).toBe(17);
    expect(recordedEvent(built.fanOutItemFailed, 1, '2026-01-01T00:00:00.000Z').item).toBe(17);
    expect('item' in built.fanOutCompleted).toBe(false);
    expect(call.item).toBe(17);
    expect(call.id).toBe('r2.ToolCalled.a.3.i17a2.4');
    expect(call.id.startsWith(callEventIdPrefix('ToolCalled', site))).toBe(true);
    expect(callEventIdPrefix('ToolCalled', attempt)).toBe('r2.ToolCalled.a.3.');
    expect([built.fanOutItemFailed, call, built.fanOutCompleted].map(isItemEvent)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('refuses an event whose data is not that of its type', () => {
    // Prepare
    const at = '2026-01-01T00:00:01.000Z';
    const started = recordedEvent(built.stepStarted, 1, at);
    const tool = recordedEvent(built.toolCalled, 2, at);
    // Act
    const results = [
      TaskEvent.safeParse({ ...started, data: tool.data }),
      TaskEvent.safeParse({ ...started, data: { ...started.data, attempt: '3' } }),
      TaskEvent.safeParse({ ...tool, data: { ...tool.data, outcome: 'maybe' } }),
      TaskEvent.safeParse({ ...started, type: 'StepExploded' }),
      TaskEvent.safeParse({ ...started, at: 'yesterday' }),
    ];
    // Assess
    expect(results.map((r) => r.success)).toEqual([false, false, false, false, false]);
    expect(results[1]?.error?.issues[0]?.path).toEqual(['data', 'attempt']);
  });

  it('says how each event moves the task status and its pending approvals, in one rule', () => {
    // Act
    const effects = Object.fromEntries(Object.entries(built).map(([k, e]) => [k, taskStatusEffect(e)]));
    // Assess
    expect(effects.taskSubmitted).toEqual({ status: 'QUEUED' });
    expect(effects.planningStarted).toEqual({ status: 'PLANNING' });
    expect(effects.planCreated).toEqual({ status: 'RUNNING' });
    expect(effects.taskDegraded).toEqual({ status: 'DEGRADED' });
    expect(effects.taskRedriven).toEqual({ status: 'QUEUED', clearsPendingApprovals: true });
    expect(effects.approvalRequested).toEqual({ pendingApproval: { approvalId, delta: 1 } });
    expect(effects.approvalDecided).toEqual({ pendingApproval: { approvalId, delta: -1 } });
    expect(effects.stepStarted).toEqual({});
    expect(withPendingApprovals('RUNNING', 2)).toBe('AWAITING_APPROVAL');
    expect(withPendingApprovals('RUNNING', 0)).toBe('RUNNING');
    expect(withPendingApprovals('QUEUED', 1)).toBe('QUEUED');
    expect(withPendingApprovals('FAILED', 1)).toBe('FAILED');
  });
});
