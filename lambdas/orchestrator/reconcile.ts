/**
 * The reconciler: an execution that ended without Baton deciding how (timed out, stopped behind
 * Baton's back, failed before or inside Finalize) still ends its task. An EventBridge rule sends
 * the "Step Functions Execution Status Change" events of the state machine (TIMED_OUT, ABORTED,
 * FAILED) here; the task of that run is recorded FAILED with the reason, the steps that had not
 * finished FAILED with it, and the run gets one dead letter, as Finalize gives a failed run.
 *
 * Nothing happens when Baton already ended the run: Finalize records the outcome before the Fail
 * state, a cancel records CANCELLED before it stops the execution, and a redrive moves the task
 * to a newer run that an older run's event must not touch. EventBridge delivers at least once:
 * every write has a deterministic id or is conditional (events, step results, the dead letter),
 * and TaskFailed is written last, so a repeated or retried delivery writes nothing twice and sends
 * no second dead letter.
 */
import * as z from 'zod';
import { ContractViolationError, ErrorNames } from '../core/errors.js';
import { Events } from '../core/events.js';
import {
  ExecutionStatusChange,
  type ExecutionStatusDetail,
  type ReconcileResult,
  runOfExecution,
  UNRECONCILED_STATUSES,
} from '../core/execution-status.js';
import { foldTask, isTerminal } from '../core/fold.js';
import { decideOutcome } from '../core/outcome.js';
import type { OrchestratorDeps } from './deps.js';
import { deadLetter } from './lifecycle.js';

const ERROR_NAME = {
  TIMED_OUT: ErrorNames.ExecutionTimedOut,
  ABORTED: ErrorNames.ExecutionAborted,
  FAILED: ErrorNames.ExecutionFailed,
} as const;

const HOW = {
  TIMED_OUT: 'timed out',
  ABORTED: 'was stopped outside Baton',
  FAILED: 'failed before Baton recorded an outcome',
} as const;

/** Why the run failed, in the audit trail: the execution's status, error and cause. */
export function executionError(
  detail: ExecutionStatusDetail & { status: (typeof UNRECONCILED_STATUSES)[number] },
): { name: string; message: string } {
  const why = [detail.error, detail.cause].filter((s): s is string => Boolean(s)).join(': ');
  return {
    name: ERROR_NAME[detail.status],
    message:
      `execution ${detail.name} ${HOW[detail.status]} (${detail.status}${why ? `, ${why}` : ''})`.slice(
        0,
        2000,
      ),
  };
}

const isUnreconciled = (
  d: ExecutionStatusDetail,
): d is ExecutionStatusDetail & { status: (typeof UNRECONCILED_STATUSES)[number] } =>
  (UNRECONCILED_STATUSES as readonly string[]).includes(d.status);

export async function reconcileExecution(deps: OrchestratorDeps, raw: unknown): Promise<ReconcileResult> {
  const parsed = ExecutionStatusChange.safeParse(raw);
  if (!parsed.success) {
    throw new ContractViolationError(
      `The reconciler takes "Step Functions Execution Status Change" events: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`,
      { cause: parsed.error },
    );
  }
  const { detail } = parsed.data;
  const ignored = (reason: string, at?: { taskId: string; run: number }): ReconcileResult => {
    deps.log?.({
      message: 'execution status change ignored',
      reason,
      executionArn: detail.executionArn,
      ...at,
    });
    return { outcome: 'ignored', reason, ...at };
  };
  if (!isUnreconciled(detail)) return ignored(`status ${detail.status} needs no reconciling`);
  const at = runOfExecution(detail);
  if (!at) return ignored('not an execution of a Baton task run');
  // The execution must be this deployment's run of the task (its ARN derives from the state machine's).
  if (deps.workflow.executionArn(at.taskId, at.run) !== detail.executionArn)
    return ignored('not an execution of this deployment', at);

  const [task, plan, events, results] = await Promise.all([
    deps.store.getTask(at.taskId),
    deps.store.getPlan(at.taskId),
    deps.store.allEvents(at.taskId),
    deps.store.getResults(at.taskId),
  ]);
  if (!task) return ignored('the task does not exist', at);
  if (task.run !== at.run) return ignored(`the task has moved on to run ${task.run}`, at);
  // The fold, not the stored projection (which may lag behind by a write), says whether it ended.
  const view = foldTask(task, plan, events);
  if (isTerminal(view.status)) return ignored(`the task already ended ${view.status}`, at);

  const error = executionError(detail);
  const base = { taskId: task.taskId, traceId: task.traceId, run: at.run };
  const now = (deps.now?.() ?? new Date()).toISOString();
  // Steps that had not finished in this run end with the execution.
  for (const step of view.plan.steps) {
    const prior = results.get(step.id);
    if (prior && (prior.status === 'SUCCEEDED' || prior.run === at.run)) continue;
    const reason = `the execution ended ${detail.status} before the step finished`;
    await deps.store.appendEvent(
      Events.stepFailed({ ...base, stepId: step.id }, { attempts: step.attempts, error, reason }),
    );
    const failed = {
      stepId: step.id,
      run: at.run,
      status: 'FAILED' as const,
      ...(step.attempts > 0 ? { attempt: step.attempts } : {}),
      agent: step.agent,
      error,
      at: now,
    };
    await deps.store.putResult(task.taskId, failed);
    results.set(step.id, failed);
  }
  await deps.store.closePendingApprovals(task.taskId, 'the execution ended');
  await deadLetter(deps, task, at.run, error, results);
  const outcome = plan ? decideOutcome(plan, results, task.policy) : undefined;
  await deps.store.appendEvent(
    Events.taskFailed(base, {
      ...(outcome ? { result: outcome.result, missing: outcome.missing } : {}),
      error,
    }),
  );
  deps.log?.({
    level: 'warn',
    message: 'task failed by the reconciler',
    executionArn: detail.executionArn,
    ...at,
    error,
  });
  return { outcome: 'recorded', reason: error.message, ...at };
}
