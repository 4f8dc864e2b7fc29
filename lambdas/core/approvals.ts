/**
 * Approval gates: records, decisions, signed links and CSRF tokens. Pure: node:crypto only,
 * no I/O, no AWS SDK.
 *
 * Security model (ARCHITECTURE.md §4):
 * - The Step Functions task token never leaves the backend. It lives only in `StoredApproval`
 *   (the item in the state store); everything rendered, logged or returned uses
 *   `ApprovalRecord`, which has no token field. `toApprovalRecord` and `decideTransition` copy
 *   fields explicitly, so passing a `StoredApproval` in never carries the token out.
 * - An approval link `GET {base}/approvals/{id}?exp=…&sig=…` is a bearer credential: the id is
 *   128 random bits, `sig` is HMAC-SHA256 over a versioned canonical string of id and expiry.
 *   Verification checks the shape, then the signature (constant time), and only then the
 *   expiry, so a forged link always reads "bad signature" and reveals nothing about expiry.
 * - Secrets rotate: a list of secrets, the first signs, any verifies. Drop an old secret once
 *   every link it signed has expired.
 * - GET renders a page and changes nothing (mail scanners prefetch links); the POST decides and
 *   carries a CSRF token from that page (see `csrfToken`). Single use is enforced by the
 *   adapter's conditional write; `decideTransition` computes the new record or the conflict.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { BatonError, ErrorNames, ValidationError } from './errors.js';
import type { DecisionEventData } from './events.js';
import { JsonValue, LIMITS, StepId } from './schemas.js';

/* ------------------------------------------------------------------------ schemas */

/** 128 random bits, base64url without padding: exactly 22 characters. */
export const ApprovalId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22}$/, 'an approval id is 22 base64url characters');
export type ApprovalId = z.infer<typeof ApprovalId>;

/**
 * What a gate decides: `step` (run this step?), `plan` (run this plan?), or `review` (a step
 * failed: accept a replacement output, retry once more, or fail it).
 */
export const ApprovalKind = z.enum(['step', 'plan', 'review']);
export type ApprovalKind = z.infer<typeof ApprovalKind>;

export const ApprovalStatus = z.enum(['PENDING', 'DECIDED', 'EXPIRED']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** `retry` is for review gates only: one more attempt of the step's agent. */
export const DecisionValue = z.enum(['approve', 'reject', 'retry']);
export type DecisionValue = z.infer<typeof DecisionValue>;

/** How a decision arrived: a signed link, the authenticated API, or the gate's timeout. */
export const DecisionVia = z.enum(['link', 'api', 'timeout']);
export type DecisionVia = z.infer<typeof DecisionVia>;

export const APPROVAL_LIMITS = {
  maxCommentChars: 2000,
  maxApproverChars: 200,
} as const;

/** No control characters (newlines would forge lines in logs and mails). */
const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;

const Approver = z
  .string()
  .trim()
  .min(1, 'approver must not be empty')
  .max(APPROVAL_LIMITS.maxApproverChars)
  .regex(NO_CONTROL_CHARS, 'approver must not contain control characters');

const Comment = z.string().max(APPROVAL_LIMITS.maxCommentChars);

/** A review's replacement summary and output: the agent output contract's limits. */
const ReviewSummary = z.string().max(LIMITS.maxSummaryChars);
const ReviewOutput = JsonValue.refine(
  (v) => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8') <= LIMITS.maxAgentOutputBytes,
  { message: `output must serialize to at most ${LIMITS.maxAgentOutputBytes} bytes` },
);

export const ApprovalDecision = z.object({
  decision: DecisionValue,
  approver: Approver,
  comment: Comment.optional(),
  via: DecisionVia,
  at: z.iso.datetime(),
  /** Review gates: the replacement summary and output the reviewer supplied with `approve`. */
  summary: ReviewSummary.optional(),
  output: ReviewOutput.optional(),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

const approvalShape = {
  id: ApprovalId,
  taskId: z.string().min(1),
  /** Set for step gates, absent for plan gates. */
  stepId: StepId.optional(),
  kind: ApprovalKind,
  status: ApprovalStatus,
  requestedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  decision: ApprovalDecision.optional(),
};

function approvalConsistency(
  value: { kind: ApprovalKind; stepId?: string; status: ApprovalStatus; decision?: ApprovalDecision },
  ctx: z.RefinementCtx,
): void {
  if (value.kind !== 'plan' && value.stepId === undefined) {
    ctx.addIssue({ code: 'custom', path: ['stepId'], message: `a ${value.kind} approval names its step` });
  }
  if (value.kind === 'plan' && value.stepId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['stepId'], message: 'a plan approval has no step' });
  }
  if (value.status === 'DECIDED' && value.decision === undefined) {
    ctx.addIssue({ code: 'custom', path: ['decision'], message: 'a decided approval records its decision' });
  }
  if (value.status === 'PENDING' && value.decision !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['decision'], message: 'a pending approval has no decision' });
  }
}

/**
 * What may leave the backend (API responses, pages, logs, events). No task token: parsing a
 * stored item with this schema strips it.
 */
export const ApprovalRecord = z.object(approvalShape).superRefine(approvalConsistency);
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

/**
 * The stored item: the record plus the Step Functions task token. Internal to the state store
 * adapter and the code that resumes the execution; never render, log or return it.
 */
export const StoredApproval = z
  .object({ ...approvalShape, taskToken: z.string().min(1) })
  .superRefine(approvalConsistency);
export type StoredApproval = z.infer<typeof StoredApproval>;

/** Body of the authenticated API decision (`POST /approvals/{id}/decision`); approver comes from auth. */
export const DecisionBody = z
  .object({
    decision: DecisionValue,
    comment: Comment.optional(),
    /** Review gates, with `approve`: the step's replacement summary and output. */
    summary: ReviewSummary.optional(),
    output: ReviewOutput.optional(),
  })
  .strict();
export type DecisionBody = z.infer<typeof DecisionBody>;

/** A textarea left empty posts `comment=`; treat blank as absent. */
const FormComment = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
  Comment.optional(),
);

/** Review gates: the replacement output as JSON text in a textarea; blank is absent. */
const FormOutput = z.preprocess((v, ctx) => {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'output must be JSON (or left empty)' });
    return z.NEVER;
  }
}, ReviewOutput.optional());

/** Link expiry in unix seconds as it appears in the URL: digits, no leading zero. */
export const LinkExp = z.string().regex(/^[1-9][0-9]{0,11}$/, 'exp is unix seconds');
/** A link signature: base64url HMAC-SHA256, 43 characters. */
export const LinkSig = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'sig is 43 base64url characters');

/**
 * The form the approval page posts (application/x-www-form-urlencoded). The page also posts
 * `exp` and `sig` (hidden) so the POST can re-verify the link exactly like the GET did.
 */
export const LinkDecisionForm = z.object({
  decision: DecisionValue,
  comment: FormComment,
  approver: Approver,
  csrf: z.string().min(1).max(200),
  exp: LinkExp,
  sig: LinkSig,
  /** Review pages only. */
  summary: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    ReviewSummary.optional(),
  ),
  output: FormOutput,
});
export type LinkDecisionForm = z.infer<typeof LinkDecisionForm>;

/**
 * Parses an urlencoded form body. A repeated field (e.g. two `decision` values) is refused
 * rather than guessing which one the approver meant.
 * @throws ValidationError with one issue per problem.
 */
export function parseLinkDecisionForm(body: string): LinkDecisionForm {
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(fields, key)) {
      throw new ValidationError('the form is invalid', [
        { path: key, message: `"${key}" was sent more than once` },
      ]);
    }
    fields[key] = value;
  }
  const parsed = LinkDecisionForm.safeParse(fields);
  if (!parsed.success) {
    throw new ValidationError(
      'the form is invalid',
      parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(form)', message: i.message })),
    );
  }
  return parsed.data;
}

/** Copies the public fields of a stored approval: the task token (and anything else) stays behind. */
export function toApprovalRecord(stored: ApprovalRecord | StoredApproval): ApprovalRecord {
  const record: ApprovalRecord = {
    id: stored.id,
    taskId: stored.taskId,
    kind: stored.kind,
    status: stored.status,
    requestedAt: stored.requestedAt,
    expiresAt: stored.expiresAt,
  };
  if (stored.stepId !== undefined) record.stepId = stored.stepId;
  if (stored.decision !== undefined) record.decision = copyDecision(stored.decision);
  return record;
}

function copyDecision(d: ApprovalDecision): ApprovalDecision {
  const copy: ApprovalDecision = { decision: d.decision, approver: d.approver, via: d.via, at: d.at };
  if (d.comment !== undefined) copy.comment = d.comment;
  if (d.summary !== undefined) copy.summary = d.summary;
  if (d.output !== undefined) copy.output = d.output;
  return copy;
}

/* ------------------------------------------------------------------------ ids and secrets */

/**
 * A new approval id: 128 bits from the CSPRNG, base64url (22 characters, URL-safe), drawn again
 * when it would start with "-": the CLI's hint `baton approve <id>` must run as printed, and a
 * command-line parser reads a leading "-" as an option (one id in 64 did).
 */
export function newApprovalId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** One secret, or a rotation list (the first signs, any verifies). */
export type SigningSecrets = string | readonly string[];

/** A signing secret shorter than this is refused: 32 hex characters already carry 128 bits. */
export const MIN_SECRET_CHARS = 32;

/**
 * The secrets as a non-empty list, each at least `MIN_SECRET_CHARS` long.
 * @throws BatonError (a configuration problem; the message never contains a secret).
 */
export function normalizeSecrets(secret: SigningSecrets): readonly [string, ...string[]] {
  const list = typeof secret === 'string' ? [secret] : [...secret];
  const [first, ...rest] = list;
  if (first === undefined) throw new BatonError('no approval signing secret is configured');
  list.forEach((s, i) => {
    if (s.length < MIN_SECRET_CHARS) {
      throw new BatonError(
        `approval signing secret #${i + 1} is ${s.length} characters; use at least ${MIN_SECRET_CHARS} (e.g. 32 random bytes as hex)`,
      );
    }
  });
  return [first, ...rest];
}

/* ------------------------------------------------------------------------ signed links */

/** Purpose and version prefixes: a MAC for one purpose can never be replayed as another. */
const LINK_PURPOSE = 'baton.approval-link.v1';
const CSRF_PURPOSE = 'baton.approval-csrf.v1';

function mac(secret: string, purpose: string, approvalId: string, exp: string): string {
  // Id and exp are validated (base64url and digits), so "\n" cannot occur inside them: the
  // canonical string is unambiguous.
  return createHmac('sha256', secret).update(`${purpose}\n${approvalId}\n${exp}`, 'utf8').digest('base64url');
}

/** Constant-time comparison of two ASCII strings; different lengths are unequal. */
function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/** True when `candidate` equals the MAC under any of the secrets. Every secret is tried (no early exit). */
function matchesAny(
  secrets: readonly string[],
  purpose: string,
  id: string,
  exp: string,
  candidate: string,
): boolean {
  let ok = false;
  for (const s of secrets) {
    if (safeEqual(mac(s, purpose, id, exp), candidate)) ok = true;
  }
  return ok;
}

/** Unix seconds of a date (floored: the link never outlives `expiresAt`). */
export function toUnixSeconds(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new BatonError('expiresAt is not a valid date');
  return Math.floor(ms / 1000);
}

export interface SignApprovalLinkInput {
  /** Public base URL of the API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com` (trailing "/" ignored). */
  baseUrl: string;
  approvalId: string;
  expiresAt: Date;
  secret: SigningSecrets;
}

export interface SignedApprovalLink {
  url: string;
  /** Unix seconds, as in the URL. */
  exp: string;
  sig: string;
}

/**
 * Signs an approval link: `${baseUrl}/approvals/${id}?exp=<unix seconds>&sig=<base64url HMAC>`.
 * Signs with the first secret.
 */
export function signApprovalLink(input: SignApprovalLinkInput): SignedApprovalLink {
  const [secret] = normalizeSecrets(input.secret);
  if (!ApprovalId.safeParse(input.approvalId).success)
    throw new BatonError('cannot sign a malformed approval id');
  if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(input.baseUrl)) {
    throw new BatonError('baseUrl must be an absolute http(s) URL without query or fragment');
  }
  const exp = String(toUnixSeconds(input.expiresAt));
  if (!LinkExp.safeParse(exp).success) throw new BatonError('expiresAt is out of range for an approval link');
  const sig = mac(secret, LINK_PURPOSE, input.approvalId, exp);
  const base = input.baseUrl.replace(/\/+$/, '');
  return { url: `${base}/approvals/${input.approvalId}?exp=${exp}&sig=${sig}`, exp, sig };
}

export interface VerifyApprovalLinkInput {
  approvalId: string | undefined;
  /** Raw query values: missing or repeated parameters come in as undefined and read "malformed". */
  exp: string | undefined;
  sig: string | undefined;
  secret: SigningSecrets;
  now: Date;
}

export type LinkVerification =
  | { ok: true; expiresAt: Date }
  | { ok: false; reason: 'bad-signature' | 'expired' | 'malformed' };

/**
 * Verifies a link: shape → signature (constant time, any secret of the list) → expiry. The
 * order matters: a forged or tampered link always reads `bad-signature`, whatever its exp.
 * A link is valid while `now` is strictly before `exp`.
 * Route mapping: malformed → 403 (or 404), bad-signature → 403, expired → 410.
 */
export function verifyApprovalLink(input: VerifyApprovalLinkInput): LinkVerification {
  const secrets = normalizeSecrets(input.secret);
  const { approvalId, exp, sig } = input;
  if (
    approvalId === undefined ||
    exp === undefined ||
    sig === undefined ||
    !ApprovalId.safeParse(approvalId).success ||
    !LinkExp.safeParse(exp).success ||
    !LinkSig.safeParse(sig).success
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (!matchesAny(secrets, LINK_PURPOSE, approvalId, exp, sig)) return { ok: false, reason: 'bad-signature' };
  const expiresAt = new Date(Number(exp) * 1000);
  if (input.now.getTime() >= expiresAt.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt };
}

/* ------------------------------------------------------------------------ CSRF */

export interface CsrfInput {
  approvalId: string;
  /** The link's exp (unix seconds), as verified. */
  exp: string;
  secret: SigningSecrets;
}

/**
 * The CSRF token the approval page embeds in its form: HMAC-SHA256 (base64url) over the
 * approval id and the link's exp, under a purpose prefix different from the link signature's.
 *
 * Why this is sound without server-side session state:
 * - The page that carries the token is only served for a valid signed link, so only someone
 *   who holds the link (the bearer credential) ever sees a token; without a secret nobody can
 *   compute one.
 * - The token binds the form to one approval and one link expiry: a token from approval A's
 *   page is refused for approval B, and it dies with the link.
 * - A different purpose prefix means the link `sig` is not a valid token and vice versa, so the
 *   token proves the POST came from our rendered form, not from a replay of URL parameters
 *   (mail scanners and link previewers fetch URLs; they do not read a page and submit its form).
 * - There is no ambient credential (no cookie) for a third-party site to ride on; the
 *   remaining cross-site risks are handled by the route: check `Origin` (or `Sec-Fetch-Site`)
 *   on the POST, and the page headers (`frame-ancestors 'none'`, `form-action 'self'`,
 *   no-referrer so the link never leaks through `Referer`). Any cookie a future version adds
 *   must be `SameSite=Strict; Secure; HttpOnly`.
 * Signs with the first secret; `verifyCsrf` accepts any, like links.
 */
export function csrfToken(input: CsrfInput): string {
  const [secret] = normalizeSecrets(input.secret);
  return mac(secret, CSRF_PURPOSE, input.approvalId, input.exp);
}

/** Constant-time check of a CSRF token against the approval and link exp it must be bound to. */
export function verifyCsrf(input: CsrfInput & { token: string | undefined }): boolean {
  const secrets = normalizeSecrets(input.secret);
  if (
    input.token === undefined ||
    !LinkSig.safeParse(input.token).success ||
    !ApprovalId.safeParse(input.approvalId).success ||
    !LinkExp.safeParse(input.exp).success
  ) {
    return false;
  }
  return matchesAny(secrets, CSRF_PURPOSE, input.approvalId, input.exp, input.token);
}

/* ------------------------------------------------------------------------ decisions */

export interface DecisionInput {
  decision: DecisionValue;
  approver: string;
  comment?: string;
  via: DecisionVia;
  /** Review gates with `approve` only. */
  summary?: string;
  output?: unknown;
}

export type ApprovalConflict =
  /** Someone already decided: what, by whom, when, how. */
  | { reason: 'already-decided'; approvalId: string; decision: ApprovalDecision }
  /** The gate expired; `decision` is the timeout's record when one was written. */
  | { reason: 'expired'; approvalId: string; expiresAt: string; decision?: ApprovalDecision };

export type DecideResult =
  | { ok: true; record: ApprovalRecord; decision: ApprovalDecision }
  | { ok: false; conflict: ApprovalConflict };

/**
 * Computes the effect of a decision. Pure: the adapter writes `record` with a condition
 * `status = PENDING` (single use); when that condition fails it re-reads the item and calls
 * this again to get the conflict to report.
 * - PENDING + link/api decision before `expiresAt` → DECIDED.
 * - PENDING + via `timeout` → EXPIRED with the timeout recorded (a timeout always rejects).
 * - PENDING at or after `expiresAt` (link/api) → conflict `expired`.
 * - DECIDED → conflict `already-decided` with the existing decision; EXPIRED → conflict `expired`.
 * The returned record never carries a task token, even when `record` is a `StoredApproval`.
 * @throws ValidationError when the decision itself is invalid (empty approver, long comment, ...).
 */
export function decideTransition(
  record: ApprovalRecord | StoredApproval,
  input: DecisionInput,
  now: Date,
): DecideResult {
  if (record.status === 'DECIDED') {
    if (!record.decision) throw new BatonError(`approval ${record.id} is DECIDED but has no decision`);
    return {
      ok: false,
      conflict: { reason: 'already-decided', approvalId: record.id, decision: copyDecision(record.decision) },
    };
  }
  if (record.status === 'EXPIRED') {
    const conflict: ApprovalConflict = {
      reason: 'expired',
      approvalId: record.id,
      expiresAt: record.expiresAt,
    };
    if (record.decision) conflict.decision = copyDecision(record.decision);
    return { ok: false, conflict };
  }
  if (input.via === 'timeout' && input.decision !== 'reject') {
    throw new BatonError('a timed-out approval gate is always rejected');
  }
  if (
    record.kind !== 'review' &&
    (input.decision === 'retry' || input.summary !== undefined || input.output !== undefined)
  ) {
    throw new ValidationError('the decision is invalid', [
      {
        path: input.decision === 'retry' ? 'decision' : input.output !== undefined ? 'output' : 'summary',
        message: `a ${record.kind} gate is decided with approve or reject; retry and a replacement output are for review gates`,
      },
    ]);
  }
  if (input.decision !== 'approve' && (input.summary !== undefined || input.output !== undefined)) {
    throw new ValidationError('the decision is invalid', [
      {
        path: input.output !== undefined ? 'output' : 'summary',
        message: 'a replacement output goes with approve',
      },
    ]);
  }
  if (input.via !== 'timeout' && now.getTime() >= Date.parse(record.expiresAt)) {
    return { ok: false, conflict: { reason: 'expired', approvalId: record.id, expiresAt: record.expiresAt } };
  }
  const parsed = ApprovalDecision.safeParse({
    decision: input.decision,
    approver: input.approver,
    comment: input.comment,
    via: input.via,
    at: now.toISOString(),
    summary: input.summary,
    output: input.output,
  });
  if (!parsed.success) {
    throw new ValidationError(
      'the decision is invalid',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const decision = parsed.data;
  if (decision.comment === undefined) delete decision.comment;
  if (decision.summary === undefined) delete decision.summary;
  if (decision.output === undefined) delete decision.output;
  const next = toApprovalRecord(record);
  next.status = input.via === 'timeout' ? 'EXPIRED' : 'DECIDED';
  next.decision = decision;
  return { ok: true, record: next, decision: copyDecision(decision) };
}

/* ------------------------------------------------------------------------ gate policy */

/**
 * How long a gate waits for a decision: the step's `approvalTimeoutSeconds`, else the policy's,
 * else 24 h. The planner puts this value in the Map item (the gate state's TimeoutSecondsPath)
 * and the approval request uses it for the link expiry, so both agree.
 */
export function approvalTimeoutSeconds(
  policy: { approvalTimeoutSeconds?: number },
  step?: { approvalTimeoutSeconds?: number },
): number {
  return Math.min(
    step?.approvalTimeoutSeconds ?? policy.approvalTimeoutSeconds ?? LIMITS.defaultApprovalTimeoutSeconds,
    LIMITS.maxApprovalTimeoutSeconds,
  );
}

/**
 * Whether a task can have asked for any approval: a plan gate (`requirePlanApproval`), a step
 * gate (a step with `approval: before`) or a review gate (`humanReviewOnFailure`). A task that
 * cannot has no approval to close when it ends (finalize skips the read).
 */
export function mayRequestApprovals(
  plan: { steps: readonly { approval: string }[] } | undefined,
  policy: { requirePlanApproval?: boolean; humanReviewOnFailure?: boolean },
): boolean {
  return (
    policy.requirePlanApproval === true ||
    policy.humanReviewOnFailure === true ||
    (plan?.steps.some((s) => s.approval !== 'none') ?? false)
  );
}

/** Error names a gate's Catch sees when its timeout passed (Step Functions' or ours on resume). */
export const GATE_TIMEOUT_ERRORS: readonly string[] = [
  'States.Timeout',
  'States.HeartbeatTimeout',
  ErrorNames.ApprovalTimedOut,
];

/** Gate rounds: the first request and at most one escalation. */
export const MAX_APPROVAL_ROUNDS = 2;

/** The reason a rejection gives, for the step's error and the task failure. */
export function rejectionMessage(kind: ApprovalKind, decision: ApprovalDecision): string {
  const what = kind === 'plan' ? 'the plan' : kind === 'review' ? 'the step on review' : 'the step';
  return `${what} was rejected by ${decision.approver}${decision.comment ? `: ${decision.comment}` : ''}`;
}

/** The audit fields of a decision (who, what, when, how, comment, a review's output) for ApprovalDecided. */
export function decisionEventData(d: ApprovalDecision): DecisionEventData {
  return {
    decision: d.decision,
    approver: d.approver,
    via: d.via,
    at: d.at,
    ...(d.comment !== undefined ? { comment: d.comment } : {}),
    ...(d.summary !== undefined ? { summary: d.summary } : {}),
    ...(d.output !== undefined ? { output: d.output } : {}),
  };
}

/* ------------------------------------------------------------------------ API contracts */

export const ListApprovalsQuery = z.object({
  status: ApprovalStatus.default('PENDING'),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});

/** One entry of `GET /approvals`: what is waiting, and the signed link to decide it. */
export const ApprovalListing = z.object({
  id: ApprovalId,
  taskId: z.string(),
  stepId: StepId.optional(),
  kind: ApprovalKind,
  requestedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  url: z.string(),
});
export type ApprovalListing = z.infer<typeof ApprovalListing>;
