/**
 * What every fan-out function shares (`fanOutStep`), and ItemsFailed itself: a child execution's
 * batch failed, so it is retried with the step's retry policy or its items are recorded FAILED
 * (one FanOutItemFailed item event each, and the failed counter). In a module of its own so that
 * ItemsFailed's bundle carries none of PrepareItems' and CollectItems' S3 and CSV code.
 */
import { ContractViolationError } from '../core/errors.js';
import { Events } from '../core/events.js';
import type { FanOutPort } from '../core/ports.js';
import { decideRetry } from '../core/retry.js';
import type { PlanStep } from '../core/schemas.js';
import { ItemsFailedContract, type ItemsFailureDecision } from '../core/states.js';
import type { OrchestratorDeps } from './deps.js';
import { type GateContext, loadContext } from './gate.js';
import { countByShard } from './item-counters.js';
import { readCause } from './steps.js';

export function fanOutStep(
  ctx: GateContext,
  stepId: string,
): PlanStep & { forEach: NonNullable<PlanStep['forEach']> } {
  const step = ctx.plan.steps.find((s) => s.id === stepId);
  if (!step?.forEach)
    throw new ContractViolationError(`Step ${stepId} of task ${ctx.task.taskId} is not a fan-out step`);
  return step as PlanStep & { forEach: NonNullable<PlanStep['forEach']> };
}

/** What ItemsFailed uses: the store and the counters (no S3, no Step Functions). */
export interface ItemsFailedDeps {
  store: OrchestratorDeps['store'];
  counters: FanOutPort;
}

export async function itemsFailed(deps: ItemsFailedDeps, raw: unknown): Promise<ItemsFailureDecision> {
  const req = ItemsFailedContract.input.parse(raw);
  const ctx = await loadContext(deps, req.taskId, req.run);
  const step = fanOutStep(ctx, req.stepId);
  const error = readCause(req.error);
  const decision = decideRetry(step.retry, req.itemAttempt, error.name);
  if (!decision.retry) {
    const scope = {
      taskId: req.taskId,
      traceId: ctx.task.traceId,
      run: req.run,
      stepId: step.id,
      attempt: req.attempt,
    };
    await deps.store.appendEvents(
      req.indexes.map((index) =>
        Events.fanOutItemFailed({ ...scope, index }, { index, attempts: req.itemAttempt, error }),
      ),
    );
    await countByShard(deps.counters, req.taskId, req.run, step.id, req.indexes, 'failed');
  }
  return {
    retry: decision.retry,
    waitSeconds: decision.waitSeconds,
    nextAttempt: decision.nextAttempt,
    error: error.name,
    cause: error.message,
  };
}
