/**
 * Worst cases of a plan, derived from the state machine definition (lib/workflow/): how long a
 * step can take, hence how long its dependents' AwaitDependencies may have to wait. Pure.
 *
 * One step, in seconds (L = WORKFLOW_TIMING.lambdaTaskSeconds, every orchestrator Lambda
 * state's TimeoutSeconds; t = the step's timeoutSeconds; M = retry.maxAttempts; A = the
 * gate's approval timeout; rounds = 2 with `onApprovalTimeout: escalate`, else 1):
 *
 *   invoke      = (1 + R) × t + Σ_{k<R} I × B^k        one RunAgent/RunFallback with its Lambda-service
 *                                                    retrier (R = 3 retries, I = 1 s, B = 2: 4t + 7)
 *   approval    = rounds × (A + 2L)                    RequestApproval (+ ResolveApproval) per round
 *   own(step)   = L                                    AwaitDependencies' own Lambda
 *               + [approval: 'before'] approval
 *               + M × (invoke + L)                     attempts, each failure recorded (RecordAttemptFailure)
 *               + Σ_{a=1}^{M-1} min(600, I_s × B_s^(a-1))   backoff waits (jitter never exceeds the base)
 *               + [fallbackAgent] (invoke + L)         RunFallback, FallbackFailed
 *               + [humanReviewOnFailure] maxReviewsPerStep × (approval + invoke + L)
 *               + L                                    the step runner's completion (a margin: it runs inside RunAgent)
 *   chain(step) = own(step) + max over its dependencies of chain(dependency)
 *
 * A step's dependency wait is `floor + max over its dependencies of chain(dependency)`, capped
 * at the execution's own limit. This bounds the wait under any MaxConcurrency: Map items are in
 * topological order, so a dependency's iteration started no later than its dependent's.
 */
import { approvalTimeoutSeconds, MAX_APPROVAL_ROUNDS } from './approvals.js';
import { LIMITS, type PlanStep, type Policy } from './schemas.js';

/** The timing of the definition's own states (lib/workflow/lambda-task.ts builds them from these). */
export const WORKFLOW_TIMING = {
  /** TimeoutSeconds of every orchestrator Lambda state. */
  lambdaTaskSeconds: 60,
  /** The Lambda-service retrier on RunAgent / RunFallback (AWS's recommended one). */
  serviceRetry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 },
  /** A step's dependency wait is at least this (a root step's gate releases at once). */
  dependencyWaitFloorSeconds: 300,
  /** The Standard execution's timeout (the state machine's `timeout`). */
  executionTimeoutSeconds: 7 * 24 * 3600,
} as const;

type PolicyTiming = Pick<Policy, 'approvalTimeoutSeconds' | 'onApprovalTimeout' | 'humanReviewOnFailure'>;

/** One agent invocation with its Lambda-service retries. */
export function invokeWorstSeconds(timeoutSeconds: number): number {
  const { maxAttempts, intervalSeconds, backoffRate } = WORKFLOW_TIMING.serviceRetry;
  let waits = 0;
  for (let k = 0; k < maxAttempts; k++) waits += intervalSeconds * backoffRate ** k;
  return (1 + maxAttempts) * timeoutSeconds + waits;
}

/** One approval or review gate, escalation included. */
export function approvalWorstSeconds(
  policy: PolicyTiming,
  step?: Pick<PlanStep, 'approvalTimeoutSeconds'>,
): number {
  const rounds = policy.onApprovalTimeout === 'escalate' ? MAX_APPROVAL_ROUNDS : 1;
  return rounds * (approvalTimeoutSeconds(policy, step) + 2 * WORKFLOW_TIMING.lambdaTaskSeconds);
}

/** The backoff waits between a step's attempts, at their largest (the jitter's upper end). */
export function backoffWorstSeconds(retry: PlanStep['retry']): number {
  let total = 0;
  for (let a = 1; a < retry.maxAttempts; a++) {
    total += Math.min(LIMITS.maxRetryDelaySeconds, retry.intervalSeconds * retry.backoffRate ** (a - 1));
  }
  return total;
}

/** How long one step's iteration can take once its dependencies are done (own(step) above). */
export function stepWorstSeconds(step: PlanStep, policy: PolicyTiming): number {
  const L = WORKFLOW_TIMING.lambdaTaskSeconds;
  const invoke = invokeWorstSeconds(step.timeoutSeconds);
  const approval = approvalWorstSeconds(policy, step);
  if (step.forEach) {
    // PrepareItems, then the most items a step can have in waves of maxConcurrency batches, each
    // batch with every attempt failing (RunItemBatch + ItemsFailed) and its backoffs, then CollectItems.
    const f = step.forEach;
    const waves = Math.ceil(LIMITS.maxFanOutItems / f.itemsPerBatch / f.maxConcurrency);
    const batch = step.retry.maxAttempts * (invoke + L) + backoffWorstSeconds(step.retry);
    return L + (step.approval === 'before' ? approval : 0) + L + waves * batch + L;
  }
  return (
    L +
    (step.approval === 'before' ? approval : 0) +
    step.retry.maxAttempts * (invoke + L) +
    backoffWorstSeconds(step.retry) +
    (step.fallbackAgent ? invoke + L : 0) +
    (policy.humanReviewOnFailure ? LIMITS.maxReviewsPerStep * (approval + invoke + L) : 0) +
    L
  );
}

/**
 * Each step's AwaitDependencies timeout: what its slowest dependency chain can take, plus the
 * floor, capped at the execution's limit. `steps` in topological order (a validated plan's).
 */
export function dependencyWaitSeconds(steps: readonly PlanStep[], policy: PolicyTiming): Map<string, number> {
  const chain = new Map<string, number>();
  const wait = new Map<string, number>();
  for (const step of steps) {
    const upstream = Math.max(0, ...step.dependsOn.map((d) => chain.get(d) ?? 0));
    chain.set(step.id, upstream + stepWorstSeconds(step, policy));
    wait.set(
      step.id,
      Math.ceil(
        Math.min(
          WORKFLOW_TIMING.executionTimeoutSeconds,
          WORKFLOW_TIMING.dependencyWaitFloorSeconds + upstream,
        ),
      ),
    );
  }
  return wait;
}

/* ------------------------------------------------------------- execution history */

/**
 * Events a Standard execution writes to its history per state, as AWS documents the history
 * event types (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html):
 *
 *   Lambda Task (request-response)  TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded|TaskFailed, TaskStateExited   5
 *   Lambda Task (.waitForTaskToken) the same + TaskSubmitted                                                                 6
 *   Choice, Pass, Wait, Succeed     <Type>StateEntered, <Type>StateExited                                                     2
 *   Map iteration                   MapIterationStarted, MapIterationSucceeded|Failed                                         2
 *   Map state                       MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited                      4
 *   Execution                       ExecutionStarted, ExecutionSucceeded|Failed                                               2
 */
export const HISTORY_EVENTS = {
  task: 5,
  callbackTask: 6,
  flow: 2,
  mapIteration: 2,
  map: 4,
  execution: 2,
} as const;

/**
 * Events per path of the definition (test/cdk/history.test.ts walks the synthesized ASL and checks
 * each against these counts):
 *
 *   step            MapIteration + AwaitDependencies(cb) + RunAgent (which ends a step that succeeds)
 *                   + StepDone (where a step that does not succeed ends)                                      2+6+5+2     = 15
 *   failedAttempt   RunAgent + RecordAttemptFailure + RetryOrGiveUp? + Backoff + NextAttempt                  5+5+2+2+2   = 16
 *   fallback        RunFallback + FallbackFailed + RetryOrGiveUp?                                            5+5+2       = 12
 *   approvalRound   RequestApproval(cb) + ResolveApproval + AfterApproval?                                   6+5+2       = 13
 *   review          its gate's rounds + ReviewRetry + one more attempt (RunAgent, RecordAttemptFailure, RetryOrGiveUp?)  2+12 = 14 + rounds
 *   task            Execution + Plan + PlanApproval? + RunSteps(Map) + Finalize(cb, which ends it)             2+5+2+4+6     = 19
 *   fanOutStep      MapIteration + AwaitDependencies(cb, left by its route) + PrepareItems + Items? + RunItems
 *                   (a Distributed Map: MapStateEntered, MapRunStarted, MapRunSucceeded|Failed, MapStateExited)
 *                   + CollectItems + StepDone                                                    2+6+5+2+4+5+2 = 26
 *                   whatever the number of items: they run (and retry) in child executions of their own
 *
 * Not counted: the Lambda-service retrier on RunAgent / RunFallback (3 events per retry of a
 * transient Lambda fault); the quota check keeps that margin only when the plan is below it.
 */
export const HISTORY_PATHS = {
  step: 15,
  failedAttempt: 16,
  fallback: 12,
  approvalRound: 13,
  reviewExtra: 14,
  task: 19,
  fanOutStep: 26,
} as const;

/** The Standard workflow's execution history quota (events per execution; not adjustable). */
export const HISTORY_QUOTA = 25_000;

type PolicyHistory = Pick<Policy, 'onApprovalTimeout' | 'humanReviewOnFailure' | 'requirePlanApproval'>;

/** The most history events one step can write: every attempt failing, its fallback, gates, reviews. */
export function stepHistoryEvents(step: PlanStep, policy: PolicyHistory): number {
  const rounds = policy.onApprovalTimeout === 'escalate' ? MAX_APPROVAL_ROUNDS : 1;
  const gate = rounds * HISTORY_PATHS.approvalRound;
  // A fan-out step's items retry in their child executions: its own history does not grow with them.
  if (step.forEach) return HISTORY_PATHS.fanOutStep + (step.approval === 'before' ? gate : 0);
  return (
    HISTORY_PATHS.step +
    step.retry.maxAttempts * HISTORY_PATHS.failedAttempt +
    (step.fallbackAgent ? HISTORY_PATHS.fallback : 0) +
    (step.approval === 'before' ? gate : 0) +
    (policy.humanReviewOnFailure ? LIMITS.maxReviewsPerStep * (gate + HISTORY_PATHS.reviewExtra) : 0)
  );
}

/** The most history events the whole execution can write for this plan. */
export function planHistoryEvents(steps: readonly PlanStep[], policy: PolicyHistory): number {
  const rounds = policy.onApprovalTimeout === 'escalate' ? MAX_APPROVAL_ROUNDS : 1;
  const planGate = policy.requirePlanApproval ? rounds * HISTORY_PATHS.approvalRound : 0;
  return HISTORY_PATHS.task + planGate + steps.reduce((sum, s) => sum + stepHistoryEvents(s, policy), 0);
}
