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
 *               + L                                    CompleteStep
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
