/**
 * HTML for the approval link flow. Pure rendering, no framework: every interpolated value goes
 * through `escapeHtml` (text and attribute values alike). Pages load nothing from the network
 * (inline CSS only, no scripts, no images) and are sent with `APPROVAL_PAGE_HEADERS`.
 *
 * Route order the pages assume (the routes are wired elsewhere):
 *   GET  /approvals/{id}?exp&sig: verify link (403 malformed/bad-signature, 410 expired) → load
 *        (404) → DECIDED: `renderConflictPage` (409) → PENDING: `renderApprovalPage` (200).
 *        GET changes nothing.
 *   POST /approvals/{id}: Origin check → parse form (400) → verify link from hidden exp/sig
 *        (403/410) → verify CSRF (403) → conditional write → `renderDecisionResultPage` (200)
 *        or `renderConflictPage` (409).
 * None of these inputs contains the task token: they take an `ApprovalRecord`, which has none.
 */
import type { ApprovalDecision, ApprovalRecord } from '../core/approvals.js';
import { BatonError } from '../core/errors.js';
import type { Json } from '../core/schemas.js';

/** Headers for every page of the approval flow (200, 4xx alike). */
export const APPROVAL_PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

/** An API Gateway (v2) result carrying a page with the headers above. */
export function htmlPageResponse(
  statusCode: number,
  body: string,
): {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  return { statusCode, headers: { ...APPROVAL_PAGE_HEADERS }, body };
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.5}
body{max-width:46rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.25rem}
h2{font-size:1.1rem;margin-top:1.75rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:rgba(127,127,127,.12);padding:.75rem;border-radius:.375rem;max-height:24rem;overflow:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid rgba(127,127,127,.35)}
fieldset{border:1px solid rgba(127,127,127,.5);border-radius:.375rem;margin:1rem 0}
.choice{display:block;padding:.25rem 0}
label.field{display:block;font-weight:600;margin-top:1rem}
input[type=text],textarea{width:100%;box-sizing:border-box;font:inherit;padding:.4rem}
.hint{font-weight:400;color:GrayText}
button{margin-top:1.25rem;font:inherit;padding:.5rem 1.25rem;cursor:pointer}
.goal{white-space:pre-wrap;overflow-wrap:anywhere}
`;

function htmlDocument(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** `2025-01-02T03:04:05.000Z` → `<time datetime="…">2025-01-02 03:04 UTC</time>`. */
function time(iso: string): string {
  const ms = Date.parse(iso);
  const shown = Number.isFinite(ms)
    ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`
    : iso;
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(shown)}</time>`;
}

function json(value: Json | undefined): string {
  return escapeHtml(JSON.stringify(value ?? {}, null, 2) ?? '');
}

function decisionWord(d: ApprovalDecision['decision']): string {
  return d === 'approve' ? 'Approved' : d === 'retry' ? 'Retry granted' : 'Rejected';
}

function decisionVerb(d: ApprovalDecision['decision']): string {
  return d === 'approve' ? 'approved' : d === 'retry' ? 'granted one more attempt of' : 'rejected';
}

function subjectOf(approval: Pick<ApprovalRecord, 'kind' | 'stepId'>): string {
  if (approval.kind === 'plan') return 'the plan';
  return `${approval.kind === 'review' ? 'the review of ' : ''}step ${approval.stepId ?? ''}`.trim();
}

export interface ApprovalPageInput {
  approval: ApprovalRecord;
  task: { goal: string };
  /** The gated step (step gates). */
  step?: { id: string; agent: string; input: Json };
  /** Summaries of the steps the gated step depends on. */
  upstream: { stepId: string; summary: string }[];
  /** The plan to approve (plan gates). */
  plan?: { steps: { id: string; agent: string; dependsOn: readonly string[] }[] };
  /** Review gates: what failed. The form then offers accept (with a replacement output), retry, or fail. */
  review?: { failure?: { name: string; message: string } };
  /** Where the form posts: a path such as `/approvals/<id>` (CSP allows only this origin). */
  formAction: string;
  csrf: string;
  exp: string | number;
  sig: string;
}

/**
 * The confirmation page a GET of a valid link shows: what is being approved and one form
 * (decision approve|reject, comment, approver, hidden csrf/exp/sig). No decision is preselected
 * and pressing Enter cannot approve by accident.
 * @throws BatonError when `formAction` is not a same-origin path or an http(s) URL.
 */
export function renderApprovalPage(input: ApprovalPageInput): string {
  const { approval, task, step, upstream, plan } = input;
  if (!/^(\/(?!\/)|https?:\/\/)/.test(input.formAction)) {
    throw new BatonError('formAction must be a path starting with "/" or an http(s) URL');
  }
  const heading =
    approval.kind === 'plan'
      ? 'Approve the plan?'
      : approval.kind === 'review'
        ? `Review failed step ${approval.stepId ?? ''}`
        : `Approve step ${approval.stepId ?? ''}?`;
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(heading)}</h1>`);
  parts.push(
    `<p>A Baton task is waiting for your decision on ${escapeHtml(subjectOf(approval))}. Review it, then approve or reject below.</p>`,
  );
  parts.push('<h2>Task</h2>');
  parts.push(`<p class="goal">${escapeHtml(task.goal)}</p>`);
  parts.push('<dl>');
  parts.push(`<dt>Task</dt><dd>${escapeHtml(approval.taskId)}</dd>`);
  parts.push(
    `<dt>Gate</dt><dd>${approval.kind === 'plan' ? 'plan approval' : approval.kind === 'review' ? 'human review of a failed step' : 'step approval'}</dd>`,
  );
  parts.push(`<dt>Requested</dt><dd>${time(approval.requestedAt)}</dd>`);
  parts.push(`<dt>Expires</dt><dd>${time(approval.expiresAt)}</dd>`);
  parts.push('</dl>');

  if (step) {
    parts.push('<h2>Step</h2>');
    parts.push('<dl>');
    parts.push(`<dt>Step</dt><dd>${escapeHtml(step.id)}</dd>`);
    parts.push(`<dt>Agent</dt><dd>${escapeHtml(step.agent)}</dd>`);
    parts.push('</dl>');
    parts.push('<h3>Input</h3>');
    parts.push(`<pre>${json(step.input)}</pre>`);
  }

  if (input.review) {
    parts.push('<h2>What failed</h2>');
    const f = input.review.failure;
    parts.push(`<pre>${f ? escapeHtml(`${f.name}: ${f.message}`) : 'The step failed.'}</pre>`);
  }

  if (upstream.length > 0) {
    parts.push('<h2>Results so far</h2>');
    for (const u of upstream) {
      parts.push(`<h3>${escapeHtml(u.stepId)}</h3>`);
      parts.push(`<pre>${escapeHtml(u.summary)}</pre>`);
    }
  }

  if (plan) {
    parts.push('<h2>Plan</h2>');
    parts.push('<table>');
    parts.push(
      '<thead><tr><th scope="col">Step</th><th scope="col">Agent</th><th scope="col">Depends on</th></tr></thead>',
    );
    parts.push('<tbody>');
    for (const s of plan.steps) {
      const deps = s.dependsOn.length > 0 ? s.dependsOn.join(', ') : '—';
      parts.push(
        `<tr><td>${escapeHtml(s.id)}</td><td>${escapeHtml(s.agent)}</td><td>${escapeHtml(deps)}</td></tr>`,
      );
    }
    parts.push('</tbody>');
    parts.push('</table>');
  }

  parts.push('<h2 id="decide">Your decision</h2>');
  parts.push(
    `<form method="post" action="${escapeHtml(input.formAction)}" accept-charset="utf-8" aria-labelledby="decide">`,
  );
  parts.push(`<input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}">`);
  parts.push(`<input type="hidden" name="exp" value="${escapeHtml(input.exp)}">`);
  parts.push(`<input type="hidden" name="sig" value="${escapeHtml(input.sig)}">`);
  parts.push('<fieldset>');
  parts.push('<legend>Decision</legend>');
  if (input.review) {
    parts.push(
      '<label class="choice" for="decision-approve"><input type="radio" id="decision-approve" name="decision" value="approve" required> Accept: the step succeeds with the output below</label>',
    );
    parts.push(
      '<label class="choice" for="decision-retry"><input type="radio" id="decision-retry" name="decision" value="retry"> Retry: run the step&#39;s agent once more</label>',
    );
    parts.push(
      '<label class="choice" for="decision-reject"><input type="radio" id="decision-reject" name="decision" value="reject"> Reject: the step fails</label>',
    );
  } else {
    parts.push(
      '<label class="choice" for="decision-approve"><input type="radio" id="decision-approve" name="decision" value="approve" required> Approve</label>',
    );
    parts.push(
      '<label class="choice" for="decision-reject"><input type="radio" id="decision-reject" name="decision" value="reject"> Reject</label>',
    );
  }
  parts.push('</fieldset>');
  if (input.review) {
    parts.push(
      '<label class="field" for="summary">Summary <span class="hint">(with Accept, optional)</span></label>',
    );
    parts.push('<input type="text" id="summary" name="summary" maxlength="4000" spellcheck="false">');
    parts.push(
      '<label class="field" for="output">Output <span class="hint">(with Accept: JSON, optional)</span></label>',
    );
    parts.push('<textarea id="output" name="output" rows="6" spellcheck="false"></textarea>');
  }
  parts.push(
    '<label class="field" for="approver">Your name <span class="hint">(required, recorded in the audit trail)</span></label>',
  );
  parts.push(
    '<input type="text" id="approver" name="approver" required maxlength="200" autocomplete="name" spellcheck="false">',
  );
  parts.push('<label class="field" for="comment">Comment <span class="hint">(optional)</span></label>');
  parts.push('<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea>');
  parts.push('<button type="submit">Submit decision</button>');
  parts.push('</form>');
  return htmlDocument(`${heading} · Baton`, parts.join('\n'));
}

export interface DecisionResultPageInput {
  approval: Pick<ApprovalRecord, 'kind' | 'stepId'>;
  decision: ApprovalDecision;
}

/** After a successful POST: what was decided, by whom, when. */
export function renderDecisionResultPage(input: DecisionResultPageInput): string {
  const { approval, decision } = input;
  const word = decisionWord(decision.decision);
  const parts = [
    `<h1>${escapeHtml(word)}</h1>`,
    `<p>You ${decisionVerb(decision.decision)} ${escapeHtml(subjectOf(approval))}. The decision is recorded; you can close this page.</p>`,
    '<dl>',
    `<dt>Decision</dt><dd>${escapeHtml(word)}</dd>`,
    `<dt>By</dt><dd>${escapeHtml(decision.approver)}</dd>`,
    `<dt>At</dt><dd>${time(decision.at)}</dd>`,
    decision.comment ? `<dt>Comment</dt><dd class="goal">${escapeHtml(decision.comment)}</dd>` : '',
    '</dl>',
  ];
  return htmlDocument(`${word} · Baton`, parts.filter(Boolean).join('\n'));
}

/**
 * 409: the approval was already decided. Says what, by whom and when (the comment is not
 * repeated). A timeout record reads as "expired".
 */
export function renderConflictPage(existing: ApprovalDecision): string {
  if (existing.via === 'timeout') {
    const parts = [
      '<h1>Already closed</h1>',
      `<p>This approval expired without a decision at ${time(existing.at)}; it was rejected automatically.</p>`,
    ];
    return htmlDocument('Already closed · Baton', parts.join('\n'));
  }
  const word = decisionWord(existing.decision);
  const parts = [
    '<h1>Already decided</h1>',
    `<p>This approval was already decided. A decision can be made only once.</p>`,
    '<dl>',
    `<dt>Decision</dt><dd>${escapeHtml(word)}</dd>`,
    `<dt>By</dt><dd>${escapeHtml(existing.approver)}</dd>`,
    `<dt>At</dt><dd>${time(existing.at)}</dd>`,
    '</dl>',
  ];
  return htmlDocument('Already decided · Baton', parts.join('\n'));
}

export type ErrorPageStatus = 400 | 403 | 404 | 410 | 500;

const ERROR_TEXT: Record<ErrorPageStatus, { title: string; text: string }> = {
  400: {
    title: 'Invalid form',
    text: 'The form was incomplete or invalid. Go back, check the fields and try again.',
  },
  403: {
    title: 'Link not valid',
    text: 'This approval link is not valid. Use the exact link you received, or ask for a new one.',
  },
  404: { title: 'Not found', text: 'There is nothing here.' },
  410: {
    title: 'Link expired',
    text: 'This approval link has expired. Ask for a new one if a decision is still needed.',
  },
  500: { title: 'Something went wrong', text: 'The request could not be completed. Try again later.' },
};

/**
 * A generic error page. It takes no details on purpose: nothing about the task, step or
 * approval can appear on it.
 */
export function renderErrorPage(status: ErrorPageStatus): string {
  const { title, text } = ERROR_TEXT[status];
  return htmlDocument(`${title} · Baton`, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(text)}</p>`);
}
