/** Task-level Lambdas: intake (start the execution), plan, finalize. */
import { z } from 'zod';
import { ContractViolationError } from '../core/errors.js';
import { eventId } from '../core/ids.js';
import { decideOutcome } from '../core/outcome.js';
import { validatePlan } from '../core/plan.js';
import { ExecutionInput, IntakeMessage, type Json, type Plan } from '../core/schemas.js';
import { WorkflowClient } from '../adapters/workflow.js';
import type { OrchestratorDeps } from './deps.js';
import { planFromGoal } from './offline-planner.js';
import { CaughtError, readCause } from './steps.js';

/** Intake: one queued submission -> one execution (named after task and run, so duplicates collapse). */
export async function startTask(deps: OrchestratorDeps, body: string): Promise<void> {
  const msg = IntakeMessage.parse(JSON.parse(body));
  const started = await deps.workflow.start(msg.taskId, msg.run, { taskId: msg.taskId, run: msg.run });
  await deps.store.appendEvent({
    id: eventId({ run: msg.run, type: 'ExecutionStarted' }),
    type: 'ExecutionStarted',
    taskId: msg.taskId,
    traceId: msg.traceId,
    data: {
      run: msg.run,
      executionName: WorkflowClient.executionName(msg.taskId, msg.run),
      ...(started.executionArn ? { executionArn: started.executionArn } : {}),
    },
  });
}

export interface PlannedItems {
  items: { stepId: string; agentFunction: string; timeoutSeconds: number }[];
  maxConcurrency: number;
}

/** Plan: the explicit plan, or one made from the goal; Map items in topological order. */
export async function planTask(deps: OrchestratorDeps, raw: unknown): Promise<PlannedItems> {
  const req = ExecutionInput.parse(raw);
  const task = await deps.store.getTask(req.taskId);
  if (!task) throw new ContractViolationError(`Task ${req.taskId} does not exist`);
  const base = { taskId: task.taskId, traceId: task.traceId };
  let plan: Plan | undefined = await deps.store.getPlan(task.taskId);
  if (!plan) {
    await deps.store.appendEvent({ ...base, id: eventId({ run: req.run, type: 'PlanningStarted' }), type: 'PlanningStarted', data: {} });
    const known = new Set(Object.keys(deps.agentFunctions));
    const made = planFromGoal(task.goal, known);
    plan = await deps.store.putPlan(
      task.taskId,
      validatePlan(made.spec, { knownAgents: known, source: 'planner:offline', rationale: made.rationale }),
    );
  }
  await deps.store.appendEvent({
    ...base,
    id: eventId({ run: req.run, type: 'PlanCreated' }),
    type: 'PlanCreated',
    data: {
      source: plan.source,
      ...(plan.rationale ? { rationale: plan.rationale } : {}),
      steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })),
    },
  });
  const items = plan.steps.map((s) => {
    const agentFunction = deps.agentFunctions[s.agent];
    if (!agentFunction) throw new ContractViolationError(`Agent "${s.agent}" has no function in this deployment`);
    return { stepId: s.id, agentFunction, timeoutSeconds: s.timeoutSeconds };
  });
  return { items, maxConcurrency: task.policy.maxConcurrency ?? 40 };
}

export const FinalizeRequest = ExecutionInput.extend({ error: CaughtError.optional() });

/** Finalize: merges step outcomes into the task's result and its terminal status. */
export async function finalizeTask(deps: OrchestratorDeps, raw: unknown): Promise<{ status: string }> {
  const req = FinalizeRequest.parse(raw);
  const [task, plan, results] = await Promise.all([
    deps.store.getTask(req.taskId),
    deps.store.getPlan(req.taskId),
    deps.store.getResults(req.taskId),
  ]);
  if (!task) throw new ContractViolationError(`Task ${req.taskId} does not exist`);
  const base = { taskId: task.taskId, traceId: task.traceId };
  const caught = req.error ? readCause(req.error) : undefined;
  if (!plan || caught) {
    const error = caught ?? { name: 'Baton.NoPlan', message: 'the task has no plan' };
    const outcome = plan ? decideOutcome(plan, results, task.policy) : undefined;
    await deps.store.appendEvent({
      ...base,
      id: eventId({ run: req.run, type: 'TaskFailed' }),
      type: 'TaskFailed',
      data: { error, ...(outcome ? { result: outcome.result as unknown as Json, missing: outcome.missing } : {}) },
    });
    return { status: 'FAILED' };
  }
  const outcome = decideOutcome(plan, results, task.policy);
  const type = outcome.status === 'SUCCEEDED' ? 'TaskSucceeded' : outcome.status === 'DEGRADED' ? 'TaskDegraded' : 'TaskFailed';
  await deps.store.appendEvent({
    ...base,
    id: eventId({ run: req.run, type }),
    type,
    data: {
      result: outcome.result as unknown as Json,
      missing: outcome.missing,
      ...(outcome.error ? { error: outcome.error } : {}),
    },
  });
  return { status: outcome.status };
}

export const IntakeBatch = z.array(z.object({ messageId: z.string(), body: z.string() }));
