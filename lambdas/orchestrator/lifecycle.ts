/** Task-level Lambdas: intake (start the execution), plan, finalize. */
import * as z from 'zod';
import { WorkflowClient } from '../adapters/workflow.js';
import { approvalTimeoutSeconds, mayRequestApprovals } from '../core/approvals.js';
import { dependencyWaitSeconds, WORKFLOW_TIMING } from '../core/bounds.js';
import { ContractViolationError, ErrorNames } from '../core/errors.js';
import { Events } from '../core/events.js';
import { isFinalSuccess } from '../core/fanout.js';
import { decideOutcome } from '../core/outcome.js';
import type { DeadLetterRecord, StepResult, StoredTask } from '../core/ports.js';
import { type ExecutionInput, IntakeMessage, type Plan } from '../core/schemas.js';
import {
  CARRIED_DEPENDENCIES_CHARS,
  FinalizeContract,
  type FinalizeOutput,
  PlanContract,
  type PlanOutput,
  routingOf,
  TASK_FAILED_CAUSE,
} from '../core/states.js';
import { isTraceId, traceHeaderFor } from '../core/trace.js';
import type { OrchestratorDeps } from './deps.js';
import { readCause } from './steps.js';

/**
 * Intake: one queued submission -> one execution (named after task and run, so duplicates
 * collapse). The execution continues the task's trace: `traceHeader` is the message's
 * AWSTraceHeader (when it is of the task's trace), and the input carries the trace id.
 */
export async function startTask(deps: OrchestratorDeps, body: string, traceHeader?: string): Promise<void> {
  const msg = IntakeMessage.parse(JSON.parse(body));
  const task = await deps.store.getTask(msg.taskId);
  if (!task) throw new ContractViolationError(`Task ${msg.taskId} does not exist`);
  // Cancelled while queued, or a stale message of an earlier run: nothing to start.
  if (task.status === 'CANCELLED' || task.run !== msg.run) return;
  const input: ExecutionInput = { taskId: msg.taskId, run: msg.run, traceId: task.traceId };
  // The ExecutionStarted's number is reserved while the execution starts: it comes before
  // anything the execution writes (a start that fails leaves the number a gap).
  const [started, { first }] = await Promise.all([
    deps.workflow.start(
      msg.taskId,
      msg.run,
      input,
      isTraceId(task.traceId) ? traceHeaderFor(task.traceId, traceHeader) : undefined,
    ),
    deps.store.reserveSeqs(msg.taskId, 1),
  ]);
  await deps.store.appendEvents(
    [
      Events.executionStarted(
        { taskId: msg.taskId, traceId: msg.traceId, run: msg.run },
        {
          run: msg.run,
          executionName: WorkflowClient.executionName(msg.taskId, msg.run),
          ...(started.executionArn ? { executionArn: started.executionArn } : {}),
        },
      ),
    ],
    { firstSeq: first },
  );
}

/** One message of an intake batch (an SQS record's id, body and AWSTraceHeader). */
export interface IntakeRecord {
  messageId: string;
  body: string;
  traceHeader?: string | undefined;
}

/**
 * An intake batch: every record's execution started side by side (they are independent tasks;
 * one after another, a batch of 10 took 10 times the latency of one). Returns the ids of the
 * records that failed, for SQS to deliver again (partial batch response); `each` runs around
 * every record (the handler's per-record log scope and lines).
 */
export async function startTasks(
  deps: OrchestratorDeps,
  records: readonly IntakeRecord[],
  each: (record: IntakeRecord, start: () => Promise<void>) => Promise<void> = (_r, start) => start(),
): Promise<string[]> {
  const outcomes = await Promise.allSettled(
    records.map((r) => each(r, () => startTask(deps, r.body, r.traceHeader))),
  );
  return records.flatMap((r, i) => (outcomes[i]?.status === 'rejected' ? [r.messageId] : []));
}

/** Plan: the explicit plan, or one made from the goal; Map items in topological order. */
export async function planTask(deps: OrchestratorDeps, raw: unknown): Promise<PlanOutput> {
  const req = PlanContract.input.parse(raw);
  // One read: the task record and its plan (an explicit plan was stored with the task).
  const { task, plan: stored } = await deps.store.getTaskAndPlan(req.taskId);
  if (!task) throw new ContractViolationError(`Task ${req.taskId} does not exist`);
  const base = { taskId: task.taskId, traceId: task.traceId, run: req.run };
  let plan: Plan | undefined = stored;
  if (!plan) {
    if (!deps.plan)
      throw new ContractViolationError('This function has no planner (deps.plan): only the Planner plans');
    await deps.store.appendEvent(Events.planningStarted(base));
    const known = new Set(Object.keys(deps.agentFunctions));
    plan = await deps.store.putPlan(
      task.taskId,
      await deps.plan(deps.store, task, req.run, known, deps.telemetry ? { telemetry: deps.telemetry } : {}),
    );
  }
  // Side by side: the PlanCreated, the results (a redriven step continues its attempt count:
  // agents see attempt 2, 3, ... not 1 again) and, under a plan gate, the earlier runs' approvals
  // (a plan approved in an earlier run is not asked again when the task is redriven).
  // With the PlanCreated, in its reservation, the StepWaiting of every step with dependencies
  // when nothing stands between the plan and its steps: the first run (a redriven one's steps may
  // have succeeded before) without a plan gate (its steps do not wait before it is approved).
  // Each gate then parks without an event of its own (PlannedItem.waitRecorded).
  const planned = plan;
  const waitsRecorded = req.run === 1 && task.policy.requirePlanApproval !== true;
  const recordsWait = (s: Plan['steps'][number]) => waitsRecorded && s.dependsOn.length > 0;
  const waiting = planned.steps.filter(recordsWait);
  const [, results, approvals] = await Promise.all([
    deps.store.appendEvents([
      Events.planCreated(base, {
        source: planned.source,
        ...(planned.rationale ? { rationale: planned.rationale } : {}),
        steps: planned.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })),
      }),
      ...waiting.map((s) => Events.stepWaiting({ ...base, stepId: s.id }, { waitingFor: [...s.dependsOn] })),
    ]),
    // Only a redriven run continues earlier runs' attempts: run 1 has nothing to read.
    req.run > 1 ? deps.store.getResults(task.taskId) : new Map<string, StepResult>(),
    task.policy.requirePlanApproval === true ? deps.store.listTaskApprovals(task.taskId) : [],
  ]);
  const dependencyWait = dependencyWaitSeconds(plan.steps, task.policy);
  // The dependency lists ride in the items (each gate then needs no plan) unless together too long.
  const carried = JSON.stringify(plan.steps.map((s) => s.dependsOn)).length <= CARRIED_DEPENDENCIES_CHARS;
  const items = plan.steps.map((s) => {
    const agentFunction = deps.agentFunctions[s.agent];
    if (!agentFunction)
      throw new ContractViolationError(`Agent "${s.agent}" has no function in this deployment`);
    const prior = results.get(s.id);
    const firstAttempt =
      prior && prior.run < req.run && !isFinalSuccess(prior) ? (prior.attempt ?? 0) + 1 : 1;
    return {
      stepId: s.id,
      agentFunction,
      timeoutSeconds: s.timeoutSeconds,
      firstAttempt,
      ...routingOf(s),
      dependsOn: carried ? [...s.dependsOn] : null,
      waitRecorded: recordsWait(s),
      approvalTimeoutSeconds: approvalTimeoutSeconds(task.policy, s),
      dependencyTimeoutSeconds: dependencyWait.get(s.id) ?? WORKFLOW_TIMING.dependencyWaitFloorSeconds,
    };
  });
  const approvedBefore = approvals.some(
    (a) => a.kind === 'plan' && a.run < req.run && a.decision?.decision === 'approve',
  );
  return {
    items,
    maxConcurrency: task.policy.maxConcurrency ?? 40,
    requireApproval: task.policy.requirePlanApproval === true && !approvedBefore,
    approvalTimeoutSeconds: approvalTimeoutSeconds(task.policy),
  };
}

/** Finalize: merges step outcomes into the task's result and its terminal status. */
export async function finalizeTask(deps: OrchestratorDeps, raw: unknown): Promise<FinalizeOutput> {
  const req = FinalizeContract.input.parse(raw);
  const out = await endTask(deps, req);
  // The normal ending waits for its token: a FAILED task fails the state (the execution ends
  // FAILED through the Fail state its Catch leads to), any other outcome succeeds it.
  if (req.taskToken) {
    if (out.status === 'FAILED')
      await deps.workflow.fail(req.taskToken, ErrorNames.TaskFailed, TASK_FAILED_CAUSE);
    else await deps.workflow.succeed(req.taskToken, out);
  }
  return out;
}

async function endTask(
  deps: OrchestratorDeps,
  req: z.infer<typeof FinalizeContract.input>,
): Promise<FinalizeOutput> {
  const [{ task, plan }, results] = await Promise.all([
    deps.store.getTaskAndPlan(req.taskId),
    deps.store.getResults(req.taskId),
  ]);
  if (!task) throw new ContractViolationError(`Task ${req.taskId} does not exist`);
  if (task.status === 'CANCELLED') return { status: 'CANCELLED' };
  const base = { taskId: task.taskId, traceId: task.traceId, run: req.run };
  // The task's pending gates are closed beside its ending (their links answer 410 from then on);
  // a task whose plan and policy ask for no gate has none to close.
  const closing = mayRequestApprovals(plan, task.policy)
    ? deps.store.closePendingApprovals(task.taskId, 'the task ended')
    : undefined;
  const caught = req.error ? readCause(req.error) : undefined;
  const outcome = plan ? decideOutcome(plan, results, task.policy) : undefined;
  const status = caught || !outcome ? 'FAILED' : outcome.status;
  const error =
    caught ??
    outcome?.error ??
    (outcome ? undefined : { name: ErrorNames.NoPlan, message: 'the task has no plan' });
  const ended =
    status === 'SUCCEEDED'
      ? Events.taskSucceeded
      : status === 'DEGRADED'
        ? Events.taskDegraded
        : Events.taskFailed;
  const ending = async () => {
    if (status === 'FAILED')
      await deadLetter(deps, task, req.run, error as { name: string; message: string }, results);
    await deps.store.appendEvent(
      ended(base, {
        ...(outcome ? { result: outcome.result, missing: outcome.missing } : {}),
        ...(error ? { error } : {}),
      }),
    );
  };
  await Promise.all([closing, ending()]);
  return { status };
}

/**
 * A failed run leaves a dead letter: a record in the store (GET /dead-letters) and an SQS message.
 * Also the reconciler's (reconcile.ts), for runs whose execution ended outside Baton.
 */
export async function deadLetter(
  deps: OrchestratorDeps,
  task: StoredTask,
  run: number,
  error: { name: string; message: string },
  results: Map<string, StepResult>,
): Promise<void> {
  const record: DeadLetterRecord = {
    taskId: task.taskId,
    run,
    goal: task.goal,
    status: 'OPEN',
    at: new Date().toISOString(),
    error,
    failedSteps: [...results.values()]
      .filter((r) => r.status !== 'SUCCEEDED')
      .map((r) => ({ stepId: r.stepId, status: r.status, ...(r.error ? { error: r.error } : {}) })),
    traceId: task.traceId,
    links: {
      task: `/tasks/${task.taskId}`,
      events: `/tasks/${task.taskId}/events`,
      redrive: `/tasks/${task.taskId}/redrive`,
    },
  };
  // The record is written once per run; the message goes out with the first write, or again when
  // the one that wrote it did not get as far as the DeadLetterRecorded event (it died sending).
  const recorded = Events.deadLetterRecorded(
    { taskId: task.taskId, traceId: task.traceId, run },
    { run, error, failedSteps: record.failedSteps.map((f) => f.stepId) },
  );
  if (
    !(await deps.store.putDeadLetter(record)) &&
    (await deps.store.allEvents(task.taskId)).some((e) => e.id === recorded.id)
  )
    return;
  await deps.deadLetters?.send(record);
  await deps.store.appendEvent(recorded);
}

export const IntakeBatch = z.array(z.object({ messageId: z.string(), body: z.string() }));
