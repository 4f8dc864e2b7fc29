/**
 * Approval use cases of the API: list, decide (API and signed link), and the link's pages.
 *
 * - A decision is single-use: the store moves the approval PENDING -> DECIDED with a conditional
 *   write that also takes the gate's task token out of the item; only the winner resumes the
 *   execution with it. The token is never returned, rendered or logged (`toApprovalRecord`).
 * - Link flow: GET verifies the link and renders the confirmation page (it changes nothing);
 *   POST checks the request comes from that page (Sec-Fetch-Site / Origin), re-verifies the link
 *   from the form's hidden exp/sig, checks the CSRF token, then decides.
 */
import type { WorkflowClient } from '../adapters/workflow.js';
import {
  type ApprovalConflict,
  type ApprovalListing,
  type ApprovalRecord,
  type ApprovalStatus,
  csrfToken,
  type DecisionInput,
  decideTransition,
  parseLinkDecisionForm,
  rejectionMessage,
  type SigningSecrets,
  signApprovalLink,
  toApprovalRecord,
  verifyApprovalLink,
  verifyCsrf,
} from '../core/approvals.js';
import { ConflictError, ErrorNames, GoneError, NotFoundError, ValidationError } from '../core/errors.js';
import { isTerminal } from '../core/fold.js';
import type { ApprovalPort, EventPort, ResultPort, TaskPort } from '../core/ports.js';
import type { Json } from '../core/schemas.js';
import { recordApprovalDecided } from '../orchestrator/approval-events.js';
import type { ApprovalPageInput } from './approval-page.js';

export interface ApprovalApiDeps {
  store: TaskPort & EventPort & ResultPort & ApprovalPort;
  workflow: WorkflowClient;
  /** The link-signing secrets (first signs, all verify). */
  secrets: () => Promise<SigningSecrets>;
  log?: (line: Record<string, unknown>) => void;
  now?: () => Date;
}

type AlreadyDecided = Extract<ApprovalConflict, { reason: 'already-decided' }>;
type Expired = Extract<ApprovalConflict, { reason: 'expired' }>;

/** Someone decided first: a ConflictError (409) saying what was decided, by whom and when. */
export class ApprovalDecidedError extends ConflictError {
  readonly conflict: AlreadyDecided;
  constructor(conflict: AlreadyDecided) {
    const d = conflict.decision;
    super(`approval ${conflict.approvalId} was already decided (${d.decision}) by ${d.approver} at ${d.at}`, {
      decided: { decision: d.decision, approver: d.approver, at: d.at, via: d.via },
    });
    this.conflict = conflict;
  }
}

/** The gate expired before the decision: a GoneError (410). */
export class ApprovalExpiredError extends GoneError {
  readonly conflict: Expired;
  constructor(conflict: Expired) {
    super(`approval ${conflict.approvalId} expired at ${conflict.expiresAt}`);
    this.conflict = conflict;
  }
}

/** A decision that cannot be made: 409 (decided before: what, who, when) or 410 (expired/closed). */
export type ApprovalConflictError = ApprovalDecidedError | ApprovalExpiredError;

/** The error for a conflict `decideTransition` reported. The link flow renders pages instead. */
export function approvalConflictError(conflict: ApprovalConflict): ApprovalConflictError {
  return conflict.reason === 'already-decided'
    ? new ApprovalDecidedError(conflict)
    : new ApprovalExpiredError(conflict);
}

const clock = (deps: { now?: () => Date }) => deps.now?.() ?? new Date();

/** `GET /approvals?status=`: newest first, each with its signed link. Pending ones past their expiry are left out. */
export async function listApprovals(
  deps: ApprovalApiDeps,
  q: { status: ApprovalStatus; limit: number },
  baseUrl: string,
): Promise<{ approvals: ApprovalListing[] }> {
  const items = await deps.store.listApprovals(q);
  const now = clock(deps).getTime();
  const live = q.status === 'PENDING' ? items.filter((a) => Date.parse(a.expiresAt) > now) : items;
  if (live.length === 0) return { approvals: [] };
  const secret = await deps.secrets();
  return {
    approvals: live.map((a) => ({
      id: a.id,
      taskId: a.taskId,
      ...(a.stepId !== undefined ? { stepId: a.stepId } : {}),
      kind: a.kind,
      requestedAt: a.requestedAt,
      expiresAt: a.expiresAt,
      url: signApprovalLink({ baseUrl, approvalId: a.id, expiresAt: new Date(a.expiresAt), secret }).url,
    })),
  };
}

/**
 * Decides an approval (link or API): single use, recorded as ApprovalDecided, then the waiting
 * gate is resumed with the stored token: success for approve/retry, failure (the reason) for
 * reject. The response is the public record.
 * @throws NotFoundError, ValidationError, ApprovalDecidedError (409), ApprovalExpiredError or GoneError (410).
 */
export async function decideApproval(
  deps: ApprovalApiDeps,
  approvalId: string,
  input: DecisionInput,
): Promise<ApprovalRecord> {
  const item = await deps.store.getApproval(approvalId);
  if (!item) throw new NotFoundError(`No approval ${approvalId}.`);
  const now = clock(deps);
  const result = decideTransition(item, input, now);
  if (!result.ok) throw approvalConflictError(result.conflict);
  const task = await deps.store.getTask(item.taskId);
  if (!task || isTerminal(task.status) || task.run !== item.run) {
    throw new GoneError(`approval ${approvalId} is no longer waiting for a decision: its task moved on`);
  }
  const won = await deps.store.transitionApproval(item, { status: 'DECIDED', decision: result.decision });
  if (!won) {
    // Someone else decided (or the gate timed out) between our read and our write.
    const now2 = await deps.store.getApproval(approvalId);
    const again = now2 ? decideTransition(now2, input, now) : undefined;
    if (again && !again.ok) throw approvalConflictError(again.conflict);
    throw new ConflictError(`approval ${approvalId} changed while deciding; reload and try again`);
  }
  await recordApprovalDecided(deps.store, item, task.traceId, result.decision);
  await resume(deps, item.id, item.kind, result.decision, won.token);
  return result.record;
}

/**
 * Answers the waiting gate. A failure here does not undo the decision: it is recorded, and the
 * gate's ResolveApproval honours it when the gate times out (at the latest).
 */
async function resume(
  deps: ApprovalApiDeps,
  approvalId: string,
  kind: ApprovalRecord['kind'],
  decision: NonNullable<ApprovalRecord['decision']>,
  token: string | undefined,
): Promise<void> {
  if (!token) {
    deps.log?.({
      level: 'warn',
      message: 'Decided approval had no waiting gate; it applies when the gate resolves',
      approvalId,
    });
    return;
  }
  try {
    if (decision.decision === 'reject') {
      await deps.workflow.fail(token, ErrorNames.ApprovalRejected, rejectionMessage(kind, decision));
    } else {
      await deps.workflow.succeed(token, { decision: decision.decision });
    }
  } catch (err) {
    deps.log?.({
      level: 'error',
      message: 'Could not resume the gate of a decided approval; it applies when the gate times out',
      approvalId,
      error: { name: (err as Error).name, message: (err as Error).message },
    });
  }
}

/* ------------------------------------------------------------------------------ link pages */

/** The inputs of a link request: the path id and the raw query values (repeated = undefined). */
export interface LinkQuery {
  approvalId: string;
  exp: string | undefined;
  sig: string | undefined;
}

/** What a page route renders. `html` never contains the task token (it only sees ApprovalRecords). */
export type PageOutcome =
  | { kind: 'approval'; input: Omit<ApprovalPageInput, 'formAction'> }
  | { kind: 'result'; record: ApprovalRecord }
  | { kind: 'conflict'; decision: NonNullable<ApprovalRecord['decision']> }
  | { kind: 'error'; status: 400 | 403 | 404 | 410 };

async function verifiedLink(
  deps: ApprovalApiDeps,
  q: LinkQuery,
): Promise<{ ok: true; secret: SigningSecrets } | { ok: false; status: 403 | 410 }> {
  const secret = await deps.secrets();
  const v = verifyApprovalLink({
    approvalId: q.approvalId,
    exp: q.exp,
    sig: q.sig,
    secret,
    now: clock(deps),
  });
  if (v.ok) return { ok: true, secret };
  return { ok: false, status: v.reason === 'expired' ? 410 : 403 };
}

/** GET of a link: the confirmation page, or why not. Changes nothing. */
export async function viewApproval(deps: ApprovalApiDeps, q: LinkQuery): Promise<PageOutcome> {
  const link = await verifiedLink(deps, q);
  if (!link.ok) return { kind: 'error', status: link.status };
  const { secret } = link;
  const item = await deps.store.getApproval(q.approvalId);
  if (!item) return { kind: 'error', status: 404 };
  if (item.status === 'DECIDED' && item.decision) return { kind: 'conflict', decision: item.decision };
  const task = await deps.store.getTask(item.taskId);
  if (item.status !== 'PENDING' || !task || isTerminal(task.status) || task.run !== item.run) {
    return { kind: 'error', status: 410 };
  }
  const [plan, results] = await Promise.all([
    deps.store.getPlan(item.taskId),
    deps.store.getResults(item.taskId),
  ]);
  const step = item.stepId !== undefined ? plan?.steps.find((s) => s.id === item.stepId) : undefined;
  return {
    kind: 'approval',
    input: {
      approval: toApprovalRecord(item),
      task: { goal: task.goal },
      ...(step ? { step: { id: step.id, agent: step.agent, input: step.input as Json } } : {}),
      upstream: (step?.dependsOn ?? []).map((d) => ({ stepId: d, summary: results.get(d)?.summary ?? '' })),
      ...(item.kind === 'plan' && plan
        ? { plan: { steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })) } }
        : {}),
      ...(item.kind === 'review' ? { review: item.failure ? { failure: item.failure } : {} } : {}),
      csrf: csrfToken({ approvalId: item.id, exp: q.exp as string, secret }),
      exp: q.exp as string,
      sig: q.sig as string,
    },
  };
}

/**
 * Is this POST from our own page? Browsers say so with `Sec-Fetch-Site: same-origin`; without
 * that header, an `Origin` must be one of ours (the page is sent with no-referrer, under which
 * browsers post `Origin: null`, which is refused here). A request with neither is not from a
 * browser, where cross-site request forgery does not apply; it still needs the page's CSRF token.
 */
export function isSameOriginPost(
  headers: Record<string, string | undefined>,
  ownOrigins: readonly string[],
): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = headers.origin;
  if (origin === undefined) return true;
  return origin !== 'null' && ownOrigins.includes(origin);
}

/** POST of the link's form: decides, or says why not. */
export async function submitApprovalForm(
  deps: ApprovalApiDeps,
  approvalId: string,
  body: string,
  sameOrigin: boolean,
): Promise<PageOutcome> {
  if (!sameOrigin) return { kind: 'error', status: 403 };
  let form: ReturnType<typeof parseLinkDecisionForm>;
  try {
    form = parseLinkDecisionForm(body);
  } catch (err) {
    if (err instanceof ValidationError) return { kind: 'error', status: 400 };
    throw err;
  }
  const q = { approvalId, exp: form.exp, sig: form.sig };
  const link = await verifiedLink(deps, q);
  if (!link.ok) return { kind: 'error', status: link.status };
  if (!verifyCsrf({ approvalId, exp: form.exp, secret: link.secret, token: form.csrf }))
    return { kind: 'error', status: 403 };
  try {
    const record = await decideApproval(deps, approvalId, {
      decision: form.decision,
      approver: form.approver,
      via: 'link',
      ...(form.comment !== undefined ? { comment: form.comment } : {}),
      ...(form.summary !== undefined ? { summary: form.summary } : {}),
      ...(form.output !== undefined ? { output: form.output } : {}),
    });
    return { kind: 'result', record };
  } catch (err) {
    if (err instanceof ApprovalDecidedError) return { kind: 'conflict', decision: err.conflict.decision };
    // ApprovalExpiredError is a GoneError.
    if (err instanceof GoneError) return { kind: 'error', status: 410 };
    if (err instanceof NotFoundError) return { kind: 'error', status: 404 };
    if (err instanceof ValidationError) return { kind: 'error', status: 400 };
    throw err;
  }
}
