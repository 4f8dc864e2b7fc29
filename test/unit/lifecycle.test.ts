/**
 * The task-level Lambdas' reads (lambdas/orchestrator/lifecycle.ts): Plan and Finalize read a
 * task's record and plan in one call, Plan reads earlier results only for a redriven run, and
 * Finalize closes approvals only where the plan and policy can have asked for one.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { beforeEach, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lambdas/adapters/workflow.js';
import { mayRequestApprovals } from '../../lambdas/core/approvals.js';
import type { Policy } from '../../lambdas/core/schemas.js';
import { CARRIED_DEPENDENCIES_CHARS } from '../../lambdas/core/states.js';
import type { OrchestratorDeps } from '../../lambdas/orchestrator/deps.js';
import { finalizeTask, planTask } from '../../lambdas/orchestrator/lifecycle.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:baton';
let store: MemoryStore;
let deps: OrchestratorDeps;
/** Calls of the store's methods, by name. */
let calls: Map<string, number>;

const step = (id: string, approval: 'none' | 'before' = 'none') => ({
  id,
  agent: 'echo',
  input: {},
  dependsOn: [],
  timeoutSeconds: 60,
  retry: { maxAttempts: 1, intervalSeconds: 1, backoffRate: 2 },
  approval,
  optional: false,
});

async function prepare(opts: { approval?: 'none' | 'before'; policy?: Policy; succeeded?: boolean } = {}) {
  await store.createTask(
    storedTask({ status: 'RUNNING', policy: opts.policy ?? {} }),
    {},
    {
      source: 'explicit',
      steps: [step('a', opts.approval)],
    },
  );
  if (opts.succeeded !== false)
    await store.putResult('t1', {
      stepId: 'a',
      run: 1,
      status: 'SUCCEEDED',
      agent: 'echo',
      attempt: 1,
      at: 'x',
    });
}

beforeEach(() => {
  store = new MemoryStore();
  calls = new Map();
  for (const name of [
    'getTask',
    'getPlan',
    'getTaskAndPlan',
    'getResults',
    'closePendingApprovals',
  ] as const) {
    const real = (store[name] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (store as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return real(...a);
    };
  }
  deps = {
    store,
    workflow: new WorkflowClient(new SFNClient({ region: 'us-east-1' }), SM),
    agentFunctions: { echo: 'fn-echo' },
  };
});

describe('which tasks can have approvals', () => {
  it.each([
    ['no gate', [step('a')], {}, false],
    ['a step gate', [step('a'), step('b', 'before')], {}, true],
    ['a plan gate', [step('a')], { requirePlanApproval: true }, true],
    ['review on failure', [step('a')], { humanReviewOnFailure: true }, true],
    ['an explicit false', [step('a')], { requirePlanApproval: false, humanReviewOnFailure: false }, false],
  ])('%s', (_name, steps, policy, expected) => {
    // Act / Assess
    expect(mayRequestApprovals({ steps }, policy)).toBe(expected);
    expect(mayRequestApprovals(undefined, policy)).toBe(expected && steps.length === 1);
  });
});

describe('Finalize', () => {
  it('reads the task and its plan in one call, and closes no approval of a task that cannot have one', async () => {
    // Prepare
    await prepare();

    // Act
    const out = await finalizeTask(deps, { taskId: 't1', run: 1 });

    // Assess
    expect(out.status).toBe('SUCCEEDED');
    expect(calls.get('getTaskAndPlan')).toBe(1);
    expect(calls.get('getTask')).toBeUndefined();
    expect(calls.get('closePendingApprovals')).toBeUndefined();
  });

  it('closes the pending approvals of a task with a gate when it ends', async () => {
    // Prepare: a gated step whose approval is still pending
    await prepare({ approval: 'before' });
    await store.createApproval({
      id: 'ap1',
      taskId: 't1',
      stepId: 'a',
      kind: 'step',
      status: 'PENDING',
      requestedAt: 'x',
      expiresAt: '2999-01-01T00:00:00.000Z',
      run: 1,
      round: 1,
      timeoutSeconds: 60,
      onTimeout: 'reject',
      taskToken: 'tok',
    });

    // Act
    await finalizeTask(deps, { taskId: 't1', run: 1 });

    // Assess
    expect(calls.get('closePendingApprovals')).toBe(1);
    expect((await store.getApproval('ap1'))?.status).not.toBe('PENDING');
  });
});

describe('Plan', () => {
  it('reads no earlier results for run 1, and continues the attempts of a redriven run', async () => {
    // Prepare: a's result of run 1 failed after 2 attempts
    await prepare({ succeeded: false });
    await store.putResult('t1', {
      stepId: 'a',
      run: 1,
      status: 'FAILED',
      agent: 'echo',
      attempt: 2,
      at: 'x',
    });

    // Act
    const first = await planTask(deps, { taskId: 't1', run: 1 });
    const firstReads = calls.get('getResults');
    const redriven = await planTask(deps, { taskId: 't1', run: 2 });

    // Assess
    expect(firstReads).toBeUndefined();
    expect(first.items[0]?.firstAttempt).toBe(1);
    expect(redriven.items[0]?.firstAttempt).toBe(3);
    expect(calls.get('getResults')).toBe(1);
    expect(calls.get('getTask')).toBeUndefined();
  });

  it('carries each step’s dependencies in its Map item, unless the plan’s lists together are too long', async () => {
    // Prepare: a small plan, and one of 200 steps each on up to 60 earlier ones
    await prepare({ succeeded: false });
    const big = Array.from({ length: 200 }, (_, i) => ({
      ...step(`step-${String(i).padStart(3, '0')}`),
      dependsOn: Array.from(
        { length: Math.min(i, 60) },
        (_, j) => `step-${String(i - j - 1).padStart(3, '0')}`,
      ),
    }));
    await store.createTask(
      storedTask({ taskId: 't2', status: 'RUNNING' }),
      {},
      { source: 'explicit', steps: big },
    );

    // Act
    const small = await planTask(deps, { taskId: 't1', run: 1 });
    const large = await planTask(deps, { taskId: 't2', run: 1 });

    // Assess: the lists where they fit, null everywhere where they do not (the gates read the plan)
    expect(small.items.map((i) => i.dependsOn)).toEqual([[]]);
    expect(JSON.stringify(big.map((s) => s.dependsOn)).length).toBeGreaterThan(CARRIED_DEPENDENCIES_CHARS);
    expect(new Set(large.items.map((i) => i.dependsOn))).toEqual(new Set([null]));
  });

  it('writes the StepWaiting of each step with dependencies in the PlanCreated’s reservation, and its item says so', async () => {
    // Prepare: a diamond (a → b, c → d); the same plan under a plan gate (t2)
    const diamond = [
      step('a'),
      { ...step('b'), dependsOn: ['a'] },
      { ...step('c'), dependsOn: ['a'] },
      { ...step('d'), dependsOn: ['b', 'c'] },
    ];
    await store.createTask(storedTask({ status: 'RUNNING' }), {}, { source: 'explicit', steps: diamond });
    await store.createTask(
      storedTask({ taskId: 't2', status: 'RUNNING', policy: { requirePlanApproval: true } }),
      {},
      { source: 'explicit', steps: diamond },
    );

    // Act
    const out = await planTask(deps, { taskId: 't1', run: 1 });
    const events = await store.allEvents('t1');
    const gated = await planTask(deps, { taskId: 't2', run: 1 });
    const redriven = await planTask(deps, { taskId: 't1', run: 2 });

    // Assess: right after the PlanCreated, numbered with it, what each waits for; the root waits for nothing
    const created = events.find((e) => e.type === 'PlanCreated');
    const waiting = events.filter((e) => e.type === 'StepWaiting');
    expect(waiting.map((e) => [e.stepId, e.data, e.seq - (created?.seq ?? 0)])).toEqual([
      ['b', { waitingFor: ['a'] }, 1],
      ['c', { waitingFor: ['a'] }, 2],
      ['d', { waitingFor: ['b', 'c'] }, 3],
    ]);
    expect(out.items.map((i) => [i.stepId, i.waitRecorded])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
      ['d', true],
    ]);
    // Under a plan gate the steps do not wait before it is approved, and a redriven run's steps
    // may have succeeded before: their gates write their StepWaiting when they park, as ever.
    expect((await store.allEvents('t2')).some((e) => e.type === 'StepWaiting')).toBe(false);
    expect(gated.items.some((i) => i.waitRecorded)).toBe(false);
    expect(
      (await store.allEvents('t1')).filter((e) => e.type === 'StepWaiting' && e.id.startsWith('r2.')),
    ).toEqual([]);
    expect(redriven.items.some((i) => i.waitRecorded)).toBe(false);
  });
});
