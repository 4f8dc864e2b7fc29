/** The Lambdas of one step's life after its gate: attempt failure (retry, fallback, review or fail) and completion. */
import { CancelledError, ContractViolationError } from '../core/errors.js';
import { type EventData, Events } from '../core/events.js';
import type { AttemptRecord, StepResult } from '../core/ports.js';
import { decideRetry } from '../core/retry.js';
import { LIMITS } from '../core/schemas.js';
import {
  AttemptFailureContract,
  type AttemptFailureDecision,
  type CaughtError,
  CompleteContract,
  type CompleteOutput,
} from '../core/states.js';
import type { OrchestratorDeps } from './deps.js';
import { type GateContext, type GateLook, loadContext, readyDependents, releaseDependents } from './gate.js';

/** Lambda errors arrive with Cause = JSON `{ errorType, errorMessage, trace }`; keep the message. */
export function readCause(error: CaughtError): { name: string; message: string } {
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string };
    if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    /* a plain-text cause */
  }
  return { name: error.Error, message: message.slice(0, 2000) };
}

type Ctx = Awaited<ReturnType<typeof loadContext>>;

/** Ends a step FAILED in this run: the event, the result, and its dependents' gates (they skip). */
export async function failStep(
  deps: OrchestratorDeps,
  ctx: Ctx,
  f: {
    stepId: string;
    run: number;
    attempts: number;
    error: { name: string; message: string };
    reason: string;
    extra?: Pick<EventData<'StepFailed'>, 'phase' | 'approvalId'>;
  },
): Promise<void> {
  const step = ctx.plan.steps.find((s) => s.id === f.stepId);
  await deps.store.appendEvent(
    Events.stepFailed(
      { taskId: ctx.task.taskId, traceId: ctx.task.traceId, run: f.run, stepId: f.stepId },
      { attempts: f.attempts, error: f.error, reason: f.reason, ...(f.extra ?? {}) },
    ),
  );
  await deps.store.putResult(ctx.task.taskId, {
    stepId: f.stepId,
    run: f.run,
    status: 'FAILED',
    attempt: f.attempts,
    ...(step ? { agent: step.agent } : {}),
    error: f.error,
    at: new Date().toISOString(),
  });
  await releaseDependents(deps, ctx, f.stepId);
}

/**
 * After a human review granted a retry, the step's failures go back to review (no more automatic
 * retries, no second fallback), up to `LIMITS.maxReviewsPerStep` reviews per run.
 */
async function reviewState(
  deps: OrchestratorDeps,
  taskId: string,
  run: number,
  stepId: string,
  attempt: number,
) {
  const rounds = (await deps.store.listTaskApprovals(taskId)).filter(
    (a) => a.kind === 'review' && a.run === run && a.stepId === stepId,
  );
  // Any round of the review that granted this attempt (an escalated one included).
  const retried = rounds.some((a) => a.attempt === attempt && a.decision?.decision === 'retry');
  const reviews = rounds.filter((a) => a.round === 1).length;
  return { retried, left: LIMITS.maxReviewsPerStep - reviews };
}

/**
 * RecordAttemptFailure: writes the failed attempt, then decides: retry after a backoff, run the
 * step's fallback agent (retries exhausted or not retryable, e.g. a timeout), or fail the step.
 */
export async function recordAttemptFailure(
  deps: OrchestratorDeps,
  raw: unknown,
): Promise<AttemptFailureDecision> {
  const req = AttemptFailureContract.input.parse(raw);
  const ctx = await loadContext(deps, req.taskId, req.run);
  const step = ctx.plan.steps.find((s) => s.id === req.stepId);
  if (!step) throw new ContractViolationError(`Step ${req.stepId} is not in the plan of ${req.taskId}`);
  const error = readCause(req.error);
  const phase = req.phase ?? 'agent';
  const humanReview = phase !== 'gate' && ctx.task.policy.humanReviewOnFailure === true;
  const reviewed = humanReview
    ? await reviewState(deps, req.taskId, req.run, req.stepId, req.attempt)
    : undefined;
  const decision = reviewed?.retried
    ? {
        retry: false,
        waitSeconds: 0,
        nextAttempt: req.attempt + 1,
        reason: 'the attempt a review granted failed',
      }
    : phase === 'agent'
      ? decideRetry(step.retry, req.attempt, error.name)
      : {
          retry: false,
          waitSeconds: 0,
          nextAttempt: req.attempt + 1,
          reason: `the ${phase === 'gate' ? 'dependency gate' : 'fallback agent'} failed`,
        };
  const fallbackFunction = step.fallbackAgent ? deps.agentFunctions[step.fallbackAgent] : undefined;
  const useFallback =
    !decision.retry &&
    phase === 'agent' &&
    !reviewed?.retried &&
    Boolean(step.fallbackAgent && fallbackFunction);
  const review = !decision.retry && !useFallback && humanReview && (reviewed?.left ?? 0) > 0;
  const base = {
    taskId: req.taskId,
    traceId: ctx.task.traceId,
    run: req.run,
    stepId: req.stepId,
    attempt: req.attempt,
  };
  await deps.store.appendEvent(
    Events.stepAttemptFailed(base, {
      attempt: req.attempt,
      phase,
      error,
      willRetry: decision.retry,
      ...(decision.retry ? { retryInSeconds: decision.waitSeconds, nextAttempt: decision.nextAttempt } : {}),
      reason: useFallback
        ? `${decision.reason}; running fallback agent ${step.fallbackAgent}`
        : review
          ? `${decision.reason}; waiting for a human review`
          : decision.reason,
      ...(review ? { willReview: true } : {}),
    }),
  );
  if (useFallback) {
    const failure = { agent: step.agent, name: error.name, message: error.message };
    await deps.store.appendEvent(
      Events.stepFallbackStarted(base, {
        fallbackAgent: step.fallbackAgent as string,
        attempt: decision.nextAttempt,
        failure,
      }),
    );
    return {
      retry: false,
      waitSeconds: 0,
      nextAttempt: decision.nextAttempt,
      useFallback: true,
      fallback: { function: fallbackFunction as string, agent: step.fallbackAgent as string, failure },
      review: false,
    };
  }
  if (!decision.retry && !review) {
    const reason =
      humanReview && reviewed && reviewed.left <= 0
        ? `${decision.reason}; the step had ${LIMITS.maxReviewsPerStep} reviews in this run`
        : decision.reason;
    await failStep(deps, ctx, { stepId: req.stepId, run: req.run, attempts: req.attempt, error, reason });
  }
  return {
    retry: decision.retry,
    waitSeconds: decision.waitSeconds,
    nextAttempt: decision.nextAttempt,
    useFallback: false,
    fallback: null,
    review,
  };
}

/** What a completion's caller already holds (completeStep's `known`). */
export interface CompletionKnown {
  ctx: GateContext;
  attempt: AttemptRecord;
  look?: GateLook;
}

/** Step completion (the step runner does it after a successful attempt): what the attempt produced becomes the step's StepSucceeded and result; dependents are released. */
export async function completeStep(
  deps: OrchestratorDeps,
  raw: unknown,
  /**
   * What the caller already holds (the step runner: the task as it read it, the plan, what the
   * attempt produced with its events' numbers), so the completion reads none of it. `look`: the
   * dependents' gates as the runner read them before its agent (readyDependents), so the
   * dependents found ready then are not read again.
   */
  known?: CompletionKnown,
): Promise<CompleteOutput> {
  const req = CompleteContract.input.parse(raw);
  const ctx = known?.ctx ?? (await loadContext(deps, req.taskId, req.run));
  if (ctx.task.status === 'CANCELLED') {
    // The task was cancelled while the agent ran: its result is discarded.
    throw new CancelledError(
      `Task ${req.taskId} was cancelled; the result of step ${req.stepId} is discarded`,
    );
  }
  // What the attempt produced: as the runner holds it, or (a completion finished after a crash)
  // from the StepSucceeded or the result that was written of it.
  let rec = known?.attempt ?? (await deps.store.getSucceeded(req.taskId, req.run, req.stepId));
  // The result is written but its StepSucceeded is not (a result written before results carried
  // it, and the completion cut short): the event is written alone.
  let resultAlone = false;
  if (!rec) {
    const existing = (await deps.store.getResults(req.taskId, [req.stepId])).get(req.stepId);
    // Succeeded in an earlier run (its result is final): nothing of this run to complete.
    if (existing?.status === 'SUCCEEDED' && existing.run !== req.run) return { stepId: req.stepId };
    rec = attemptOfResult(existing);
    resultAlone = rec !== undefined;
  }
  if (!rec) throw new ContractViolationError(`No record of attempt ${req.attempt} of step ${req.stepId}`);
  // The attempt's ArtifactStored events and the StepSucceeded, numbered by one reservation. A
  // completion done again (after a crash) writes none of them twice: their ids are deterministic,
  // and the StepSucceeded goes with the result, which is written once.
  const scope = { taskId: req.taskId, traceId: ctx.task.traceId, run: req.run, stepId: req.stepId };
  const stored = rec.artifacts.map((a) =>
    Events.artifactStored(
      { ...scope, attempt: rec.attempt },
      { artifactId: a.id, name: a.name, contentType: a.contentType, size: a.size, sha256: a.sha256 },
    ),
  );
  const succeeded = Events.stepSucceeded(scope, {
    attempt: rec.attempt,
    agent: rec.agent,
    summary: rec.summary,
    ...(rec.output !== undefined ? { output: rec.output } : {}),
    artifacts: rec.artifacts,
  });
  const result = (firstSeq?: number): StepResult => ({
    stepId: req.stepId,
    run: req.run,
    status: 'SUCCEEDED',
    attempt: rec.attempt,
    agent: rec.agent,
    summary: rec.summary,
    ...(rec.output !== undefined ? { output: rec.output } : {}),
    artifacts: rec.artifacts,
    at: new Date().toISOString(),
    ...(firstSeq !== undefined ? { firstSeq } : {}),
  });
  // Numbered before the result exists (by the runner, read back from what was written, or
  // reserved now): whatever a dependent released by it writes comes later in the trail, so the
  // events and the result are written side by side: the ArtifactStored events, and the result
  // with its StepSucceeded in one write (putSuccess). The result holds all of the attempt and the
  // numbers, so after a crash between the two the completion is finished from it (above). Beside
  // them, the dependents' gates as they will be with this result (readyDependents).
  const firstSeq = rec.firstSeq ?? (await deps.store.reserveSeqs(req.taskId, stored.length + 1)).first;
  const own = result(firstSeq);
  const [, written, early] = await Promise.all([
    stored.length > 0 ? deps.store.appendEvents(stored, { firstSeq }) : undefined,
    // A StepSucceeded already on its own item (written before results carried it) is not written
    // again, nor a result that exists (its event is then written alone).
    resultAlone
      ? deps.store.appendEvents([succeeded], { firstSeq: firstSeq + stored.length }).then(() => false)
      : rec.succeededStored
        ? deps.store.putResult(req.taskId, own)
        : deps.store.putSuccess(req.taskId, { result: own, event: succeeded, seq: firstSeq + stored.length }),
    readyDependents(deps, ctx, own, known?.look),
  ]);
  // Only this write's result releases them unseen (a result of this run written before, a failed
  // one say, is looked at again).
  const ready = written ? early : undefined;
  await releaseDependents(deps, ctx, req.stepId, ready, ready && known?.look?.starts);
  return { stepId: req.stepId };
}

/** A SUCCEEDED result as the attempt record it was written from (a completion finished after a crash). */
function attemptOfResult(r: StepResult | undefined): AttemptRecord | undefined {
  if (r?.status !== 'SUCCEEDED' || r.attempt === undefined || r.agent === undefined) return undefined;
  return {
    stepId: r.stepId,
    run: r.run,
    attempt: r.attempt,
    agent: r.agent,
    summary: r.summary ?? '',
    ...(r.output !== undefined ? { output: r.output } : {}),
    artifacts: r.artifacts ?? [],
    at: r.at,
    ...(r.firstSeq !== undefined ? { firstSeq: r.firstSeq } : {}),
  };
}
