/**
 * Approval gates in the state machine (ARCHITECTURE.md §4): RequestApproval parks a gate on a
 * task token, stored by approval id and never returned, logged or rendered; ResolveApproval
 * turns how the gate ended (approved, rejected, timed out, escalated, reviewed) into the next
 * state. Three kinds of gates share this code:
 *   plan   after Plan, when `policy.requirePlanApproval`: the approver sees the plan
 *   step   before a step with `approval: "before"` runs its agent
 *   review after a step's agent (and fallback) failed, when `policy.humanReviewOnFailure`
 * Decisions arrive through the API (lambdas/api/approvals.ts), which records them with a
 * conditional write and answers the token; the timeout is the gate state's TimeoutSecondsPath.
 */
import {
  approvalTimeoutSeconds,
  decideTransition,
  GATE_TIMEOUT_ERRORS,
  MAX_APPROVAL_ROUNDS,
  newApprovalId,
  rejectionMessage,
  signApprovalLink,
} from '../core/approvals.js';
import {
  BatonError,
  CancelledError,
  ContractViolationError,
  describeError,
  ErrorNames,
} from '../core/errors.js';
import { Events } from '../core/events.js';
import type { ApprovalGate, ApprovalItem } from '../core/ports.js';
import type { Json, PlanStep } from '../core/schemas.js';
import {
  type ApprovalGateRef,
  type ApprovalRequestOutput,
  RequestApprovalContract,
  type Resolution,
  ResolveApprovalContract,
} from '../core/states.js';
import { recordApprovalDecided, recordApprovalRequested } from './approval-events.js';
import type { ApprovalServices, OrchestratorDeps } from './deps.js';
import { loadContext, releaseDependents } from './gate.js';
import { failStep, readCause } from './steps.js';

export type { Resolution, ResolvedAction } from '../core/states.js';

export class ApprovalsNotConfiguredError extends BatonError {
  constructor() {
    super('RequestApproval needs approval services (secrets, notifier, public URL); the handler wires them');
    this.name = ErrorNames.ApprovalsNotConfigured;
  }
}

const gateOf = (ref: ApprovalGateRef): ApprovalGate => ({
  run: ref.run,
  kind: ref.kind,
  ...(ref.stepId !== undefined ? { stepId: ref.stepId } : {}),
  ...(ref.attempt !== undefined ? { attempt: ref.attempt } : {}),
});

/**
 * RequestApproval (a `.waitForTaskToken` state). Creates the gate's approval once, keeps the token
 * with it, records ApprovalRequested and notifies approvers with a signed link. A repeated request
 * for the same gate (a retried Lambda, an execution resumed after a crash) finds the approval: a
 * pending one gets the new token (no second notification), a decided one is answered at once. A
 * timed-out round whose policy escalates gets a second round. Returns nothing secret.
 */
export async function requestApproval(deps: OrchestratorDeps, raw: unknown): Promise<ApprovalRequestOutput> {
  const req = RequestApprovalContract.input.parse(raw);
  const svc = deps.approvals;
  if (!svc) throw new ApprovalsNotConfiguredError();
  const ctx = await loadContext(deps, req.taskId, req.run);
  const step = req.stepId === undefined ? undefined : stepOf(ctx.plan.steps, req.stepId, req.taskId);
  const gate = gateOf(req);
  // Before anything is created: a link nobody can sign is a configuration error, not a gate.
  const secrets = await svc.secrets();

  const latest = await deps.store.latestApproval(req.taskId, gate);
  if (latest && !(latest.status === 'EXPIRED' && latest.escalated && latest.round < MAX_APPROVAL_ROUNDS)) {
    const waiting = await answerExisting(deps, latest, req.taskToken);
    // Still pending: make sure it was announced (a crash may have come between creating and announcing).
    if (waiting) await announce(deps, svc, waiting, ctx.task, secrets);
    return { approvalId: latest.id };
  }
  const now = clock(deps);
  const timeoutSeconds = approvalTimeoutSeconds(ctx.task.policy, step);
  const created = await deps.store.createApproval({
    id: newApprovalId(),
    taskId: req.taskId,
    ...(req.stepId !== undefined ? { stepId: req.stepId } : {}),
    kind: req.kind,
    status: 'PENDING',
    requestedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
    run: req.run,
    round: (latest?.round ?? 0) + 1,
    ...(req.attempt !== undefined ? { attempt: req.attempt } : {}),
    timeoutSeconds,
    onTimeout: ctx.task.policy.onApprovalTimeout ?? 'reject',
    ...(req.error ? { failure: readCause(req.error) } : {}),
    taskToken: req.taskToken,
  });
  const waiting = created.created ? created.item : await answerExisting(deps, created.item, req.taskToken);
  if (waiting) await announce(deps, svc, waiting, ctx.task, secrets);
  return { approvalId: created.item.id };
}

/** Records ApprovalRequested (once: deterministic id) and, the first time only, tells approvers. */
async function announce(
  deps: OrchestratorDeps,
  svc: ApprovalServices,
  item: ApprovalItem,
  task: { goal: string; traceId: string },
  secrets: Awaited<ReturnType<ApprovalServices['secrets']>>,
): Promise<void> {
  const recorded = await recordApprovalRequested(deps.store, item, task.traceId);
  if (recorded) await notify(deps, svc, item, task.goal, secrets);
}

async function notify(
  deps: OrchestratorDeps,
  svc: ApprovalServices,
  item: ApprovalItem,
  goal: string,
  secrets: Awaited<ReturnType<ApprovalServices['secrets']>>,
): Promise<void> {
  const expiresAt = new Date(item.expiresAt);
  try {
    const link = signApprovalLink({
      baseUrl: svc.publicUrl(),
      approvalId: item.id,
      expiresAt,
      secret: secrets,
    });
    await svc.notifier.notify({
      approvalId: item.id,
      taskId: item.taskId,
      ...(item.stepId !== undefined ? { stepId: item.stepId } : {}),
      kind: item.kind,
      goal,
      url: link.url,
      expiresAt,
      ...(item.round > 1 ? { escalation: true } : {}),
    });
  } catch (err) {
    // The gate stands: approvers find it through GET /approvals, and it times out by policy.
    deps.log?.({
      level: 'error',
      message: 'Could not notify approvers; the approval is listed by GET /approvals',
      taskId: item.taskId,
      approvalId: item.id,
      error: describeError(err),
    });
  }
}

/**
 * A gate asked again for an approval that exists: hands the pending approval the new token (and
 * returns it), or answers the gate at once from the decision (and returns undefined).
 */
async function answerExisting(
  deps: OrchestratorDeps,
  item: ApprovalItem,
  token: string,
): Promise<ApprovalItem | undefined> {
  let current: ApprovalItem | undefined = item;
  for (let i = 0; i < 2 && current; i++) {
    if (current.status === 'PENDING') {
      if (clock(deps).getTime() >= Date.parse(current.expiresAt)) {
        // Expired while the execution was not waiting (a crash): ResolveApproval applies the policy.
        await deps.workflow.fail(
          token,
          ErrorNames.ApprovalTimedOut,
          `approval ${current.id} expired at ${current.expiresAt}`,
        );
        return undefined;
      }
      if (await deps.store.setApprovalToken(current, token)) return current;
      current = await deps.store.getApproval(current.id); // decided meanwhile: answer that
      continue;
    }
    const d = current.decision;
    if (current.status === 'DECIDED' && d && d.decision !== 'reject') {
      await deps.workflow.succeed(token, { decision: d.decision });
    } else if (current.status === 'DECIDED' && d) {
      await deps.workflow.fail(token, ErrorNames.ApprovalRejected, rejectionMessage(current.kind, d));
    } else {
      await deps.workflow.fail(token, ErrorNames.ApprovalTimedOut, `approval ${current.id} is closed`);
    }
    return undefined;
  }
  throw new ContractViolationError(`Approval ${item.id} of task ${item.taskId} could not be read back`);
}

/**
 * ResolveApproval: how a gate ended, from the store (the one source of truth, whatever reached
 * the execution first). Invoked after a review gate's success and after any gate's Catch:
 * - decided approve: run (step, plan) or accept the reviewer's output (review: StepSucceeded);
 * - decided retry (review): one more attempt;
 * - decided reject: the step fails with the reason (dependents are skipped), or the plan fails;
 * - timed out while pending: recorded as an ApprovalDecided via timeout; escalate once when the
 *   policy says so, else as a rejection;
 * - any other failure of the gate (e.g. its request failed): the gate closes and the step fails.
 */
export async function resolveApproval(deps: OrchestratorDeps, raw: unknown): Promise<Resolution> {
  const req = ResolveApprovalContract.input.parse(raw);
  const ctx = await loadContext(deps, req.taskId, req.run);
  const gate = gateOf(req);
  const caught = req.error ? readCause(req.error) : undefined;
  let item = await deps.store.latestApproval(req.taskId, gate);
  if (!item) {
    return fail(
      deps,
      ctx,
      req,
      caught ?? { name: ErrorNames.ContractViolation, message: 'the gate ended without an approval' },
    );
  }

  if (item.status === 'PENDING') {
    if (!caught)
      throw new ContractViolationError(`Approval ${item.id} is still pending, but its gate resumed`);
    if (!GATE_TIMEOUT_ERRORS.includes(caught.name)) {
      await deps.store.transitionApproval(item, {
        status: 'EXPIRED',
        closedReason: `the gate failed: ${caught.name}`,
      });
      return fail(deps, ctx, req, caught, item);
    }
    item = await expire(deps, ctx.task.traceId, item);
  }

  const d = item.decision;
  if (item.status === 'DECIDED' && d?.decision === 'approve') {
    if (item.kind !== 'review') return { action: 'run', error: null };
    await acceptReview(deps, ctx, item);
    return { action: 'done', error: null };
  }
  if (item.status === 'DECIDED' && d?.decision === 'retry') return { action: 'retry', error: null };
  if (item.status === 'DECIDED' && d) {
    return fail(
      deps,
      ctx,
      req,
      { name: ErrorNames.ApprovalRejected, message: rejectionMessage(item.kind, d) },
      item,
    );
  }
  if (item.escalated && item.round < MAX_APPROVAL_ROUNDS) return { action: 'escalate', error: null };
  const message = item.closedReason
    ? `the ${item.kind} approval closed: ${item.closedReason}`
    : `no decision on the ${item.kind === 'plan' ? 'plan' : item.kind} approval within ${item.timeoutSeconds} s${
        item.round > 1 ? ' (after an escalation)' : ''
      }; rejected by policy`;
  return fail(deps, ctx, req, { name: ErrorNames.ApprovalTimedOut, message }, item);
}

/** A pending gate's timeout: EXPIRED with a timeout decision (escalated when the policy says so). */
async function expire(deps: OrchestratorDeps, traceId: string, item: ApprovalItem): Promise<ApprovalItem> {
  const escalated = item.onTimeout === 'escalate' && item.round < MAX_APPROVAL_ROUNDS;
  const t = decideTransition(
    item,
    {
      decision: 'reject',
      approver: 'baton:timeout',
      via: 'timeout',
      comment: `no decision within ${item.timeoutSeconds} s${escalated ? '; escalated' : ''}`,
    },
    clock(deps),
  );
  if (!t.ok) return (await deps.store.getApproval(item.id)) ?? item;
  const won = await deps.store.transitionApproval(item, {
    status: 'EXPIRED',
    decision: t.decision,
    escalated,
  });
  // Someone decided in the meantime: their decision stands.
  if (!won) return (await deps.store.getApproval(item.id)) ?? item;
  await recordApprovalDecided(deps.store, item, traceId, t.decision, { escalated });
  return { ...item, status: 'EXPIRED', decision: t.decision, escalated };
}

async function fail(
  deps: OrchestratorDeps,
  ctx: Awaited<ReturnType<typeof loadContext>>,
  req: ApprovalGateRef,
  error: { name: string; message: string },
  item?: ApprovalItem,
): Promise<Resolution> {
  if (req.kind === 'plan' || req.stepId === undefined) {
    return { action: 'fail', error: { Error: error.name, Cause: error.message } };
  }
  await failStep(deps, ctx, {
    stepId: req.stepId,
    run: req.run,
    attempts: req.kind === 'review' ? (req.attempt ?? 1) - 1 : 0,
    error,
    reason:
      req.kind === 'review'
        ? 'the human review failed the step'
        : 'the approval gate did not let the step run',
    extra: { phase: req.kind === 'review' ? 'review' : 'approval', ...(item ? { approvalId: item.id } : {}) },
  });
  return { action: 'done', error: null };
}

/** A reviewer approved a failed step with a replacement: the step succeeds with that output. */
async function acceptReview(
  deps: OrchestratorDeps,
  ctx: Awaited<ReturnType<typeof loadContext>>,
  item: ApprovalItem,
): Promise<void> {
  const d = item.decision;
  const step = stepOf(ctx.plan.steps, item.stepId ?? '', item.taskId);
  if (!d) throw new ContractViolationError(`Approval ${item.id} has no decision`);
  if ((await deps.store.getTask(item.taskId))?.status === 'CANCELLED') {
    throw new CancelledError(`Task ${item.taskId} was cancelled; the review of step ${step.id} is discarded`);
  }
  const attempt = item.attempt ?? 1;
  const summary = d.summary ?? `accepted on review by ${d.approver}`;
  await deps.store.appendEvent(
    Events.stepSucceeded(
      { taskId: item.taskId, traceId: ctx.task.traceId, run: item.run, stepId: step.id },
      {
        attempt,
        agent: step.agent,
        summary,
        ...(d.output !== undefined ? { output: d.output } : {}),
        artifacts: [],
        source: 'review',
        approvalId: item.id,
        reviewedBy: d.approver,
      },
    ),
  );
  await deps.store.putResult(item.taskId, {
    stepId: step.id,
    run: item.run,
    status: 'SUCCEEDED',
    attempt,
    agent: step.agent,
    summary,
    ...(d.output !== undefined ? { output: d.output as Json } : {}),
    artifacts: [],
    at: clock(deps).toISOString(),
  });
  await releaseDependents(deps, ctx, step.id);
}

function stepOf(steps: readonly PlanStep[], stepId: string, taskId: string): PlanStep {
  const step = steps.find((s) => s.id === stepId);
  if (!step) throw new ContractViolationError(`Step ${stepId} is not in the plan of task ${taskId}`);
  return step;
}

const clock = (deps: OrchestratorDeps) => deps.now?.() ?? new Date();
