import { describe, expect, it } from 'vitest';
import {
  APPROVAL_PAGE_HEADERS,
  escapeHtml,
  htmlPageResponse,
  renderApprovalPage,
  renderConflictPage,
  renderDecisionResultPage,
  renderErrorPage,
} from '../../../lambdas/api/approval-page.js';
import type { ApprovalDecision, ApprovalRecord } from '../../../lambdas/core/approvals.js';

const TOKEN = 'AAAAKgAAAAMAAAAAAAAAAR-the-task-token-zzz';
const EVIL_GOAL = '<script>alert(1)</script> & "quotes" \'single\'';

const approval: ApprovalRecord = {
  id: 'AbCdEfGhIjKlMnOpQrStUv',
  taskId: 'task-42',
  stepId: 'publish',
  kind: 'step',
  status: 'PENDING',
  requestedAt: '2030-01-01T00:00:00.000Z',
  expiresAt: '2030-01-02T00:00:00.000Z',
};

function renderStepPage(overrides: { goal?: string; input?: Record<string, string> } = {}): string {
  return renderApprovalPage({
    approval,
    task: { goal: overrides.goal ?? EVIL_GOAL },
    step: { id: 'publish', agent: 'writing', input: overrides.input ?? { channel: '<b>prod</b>' } },
    upstream: [{ stepId: 'draft', summary: 'Draft <img src=x onerror=alert(2)> done' }],
    formAction: `/approvals/${approval.id}`,
    csrf: 'csrf-token-value',
    exp: '1893542400',
    sig: 'sig"><script>x</script>',
  });
}

/** The value of the `name`d input/textarea tags, in order of appearance. */
function fieldNames(html: string): string[] {
  return [...html.matchAll(/<(?:input|textarea)\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1] ?? '');
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and quoted attributes', () => {
    // Act
    const out = escapeHtml(`<a href="x" title='y'>&amp;</a>`);
    // Assess
    expect(out).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });
});

describe('renderApprovalPage', () => {
  it('escapes user content: the goal appears escaped, never raw', () => {
    // Act
    const html = renderStepPage();
    // Assess
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;');
    expect(html).not.toContain('<img');
    expect(html).toContain('Draft &lt;img src=x onerror=alert(2)&gt; done');
    expect(html).toContain('&lt;b&gt;prod&lt;/b&gt;');
    expect(html).not.toContain('<b>prod');
    expect(html).toContain('value="sig&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
  });

  it('is one HTML5 document with a post form and exactly the expected field names', () => {
    // Act
    const html = renderStepPage();
    // Assess
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    expect(html.match(/<form\b/g)).toHaveLength(1);
    expect(html).toContain(`<form method="post" action="/approvals/${approval.id}"`);
    expect(fieldNames(html)).toEqual(['csrf', 'exp', 'sig', 'decision', 'decision', 'approver', 'comment']);
    expect(html).toContain('<input type="hidden" name="csrf" value="csrf-token-value">');
    expect(html).toContain('<input type="hidden" name="exp" value="1893542400">');
    expect(html).toMatch(
      /<input type="radio" id="decision-approve" name="decision" value="approve" required>/,
    );
    expect(html).toMatch(/<input type="radio" id="decision-reject" name="decision" value="reject">/);
    expect(html).toMatch(/<input type="text" id="approver" name="approver" required maxlength="200"/);
    expect(html).toMatch(/<textarea id="comment" name="comment" rows="4" maxlength="2000"><\/textarea>/);
  });

  it('labels every visible field', () => {
    // Act
    const html = renderStepPage();
    // Assess
    for (const id of ['decision-approve', 'decision-reject', 'approver', 'comment']) {
      expect(html).toContain(
        `<label class="${id === 'approver' || id === 'comment' ? 'field' : 'choice'}" for="${id}">`,
      );
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).toContain('<legend>Decision</legend>');
  });

  it('loads nothing from the network', () => {
    // Act
    const html = renderStepPage();
    // Assess
    expect(html).not.toMatch(/<(script|img|link|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/<[^>]*\s(src|href|srcset|poster|data)=/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
  });

  it('shows what is being approved: goal, step, agent, input and upstream summaries', () => {
    // Act
    const html = renderStepPage({ goal: 'Write the launch post', input: { tone: 'friendly' } });
    // Assess
    expect(html).toContain('Write the launch post');
    expect(html).toContain('<dt>Step</dt><dd>publish</dd>');
    expect(html).toContain('<dt>Agent</dt><dd>writing</dd>');
    expect(html).toContain('&quot;tone&quot;: &quot;friendly&quot;');
    expect(html).toContain('<h3>draft</h3>');
    expect(html).toContain('<time datetime="2030-01-02T00:00:00.000Z">2030-01-02 00:00 UTC</time>');
  });

  it('shows the plan for a plan gate', () => {
    // Prepare
    const planApproval: ApprovalRecord = { ...approval, kind: 'plan', stepId: undefined };
    // Act
    const html = renderApprovalPage({
      approval: planApproval,
      task: { goal: 'Research and write' },
      upstream: [],
      plan: {
        steps: [
          { id: 'research', agent: 'research', dependsOn: [] },
          { id: 'write', agent: 'writing', dependsOn: ['research'] },
        ],
      },
      formAction: `/approvals/${approval.id}`,
      csrf: 'c',
      exp: 1893542400,
      sig: 's',
    });
    // Assess
    expect(html).toContain('<h1>Approve the plan?</h1>');
    expect(html).toContain('<tr><td>research</td><td>research</td><td>—</td></tr>');
    expect(html).toContain('<tr><td>write</td><td>writing</td><td>research</td></tr>');
  });

  it('never contains the task token, even when handed a stored item that has one', () => {
    // Prepare
    const stored = { ...approval, taskToken: TOKEN };
    // Act
    const html = renderApprovalPage({
      approval: stored,
      task: { goal: 'g' },
      step: { id: 'publish', agent: 'writing', input: {} },
      upstream: [],
      formAction: '/approvals/x',
      csrf: 'c',
      exp: '1',
      sig: 's',
    });
    // Assess
    expect(html).not.toContain(TOKEN);
  });

  it('refuses a form action that is neither a path nor an http(s) URL', () => {
    // Act + Assess
    for (const formAction of ['javascript:alert(1)', '//evil.example/x', 'approvals/x']) {
      expect(() =>
        renderApprovalPage({
          approval,
          task: { goal: 'g' },
          upstream: [],
          formAction,
          csrf: 'c',
          exp: '1',
          sig: 's',
        }),
      ).toThrow(/formAction/);
    }
  });
});

describe('result, conflict and error pages', () => {
  const decision: ApprovalDecision = {
    decision: 'reject',
    approver: '<Eve>',
    comment: 'not <now>',
    via: 'link',
    at: '2030-01-01T10:00:00.000Z',
  };

  it('the result page says what was decided, by whom and when, escaped', () => {
    // Act
    const html = renderDecisionResultPage({ approval, decision });
    // Assess
    expect(html).toContain('<h1>Rejected</h1>');
    expect(html).toContain('You rejected step publish.');
    expect(html).toContain('<dt>By</dt><dd>&lt;Eve&gt;</dd>');
    expect(html).toContain('not &lt;now&gt;');
    expect(html).toContain('2030-01-01 10:00 UTC');
  });

  it('the conflict page says it was already decided, by whom, when and how', () => {
    // Act
    const html = renderConflictPage({ ...decision, decision: 'approve' });
    // Assess
    expect(html).toContain('<h1>Already decided</h1>');
    expect(html).toContain('<dt>Decision</dt><dd>Approved</dd>');
    expect(html).toContain('<dt>By</dt><dd>&lt;Eve&gt;</dd>');
    expect(html).toContain('<time datetime="2030-01-01T10:00:00.000Z">');
    expect(html).not.toContain('<form');
  });

  it('the conflict page reads a timeout as expired', () => {
    // Act
    const html = renderConflictPage({
      decision: 'reject',
      approver: 'baton:timeout',
      via: 'timeout',
      at: decision.at,
    });
    // Assess
    expect(html).toContain('expired without a decision');
    expect(html).not.toContain('baton:timeout');
  });

  it.each([403, 410, 404, 400, 500] as const)('the %i page reveals nothing about the task', (status) => {
    // Prepare
    const goal = 'Quarterly numbers for ACME';
    const stepPage = renderStepPage({ goal });
    // Act
    const html = renderErrorPage(status);
    // Assess
    expect(stepPage).toContain(goal);
    for (const secretish of [goal, 'publish', 'writing', approval.id, approval.taskId, TOKEN, '<form']) {
      expect(html).not.toContain(secretish);
    }
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
  });

  it('403 and 410 say different, generic things', () => {
    // Act
    const forbidden = renderErrorPage(403);
    const gone = renderErrorPage(410);
    // Assess
    expect(forbidden).toContain('not valid');
    expect(gone).toContain('expired');
  });
});

describe('page headers', () => {
  it('lock the page down', () => {
    // Act
    const response = htmlPageResponse(403, renderErrorPage(403));
    // Assess
    expect(response.statusCode).toBe(403);
    expect(response.headers).toEqual({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    expect(response.headers).not.toBe(APPROVAL_PAGE_HEADERS);
    expect(Object.isFrozen(APPROVAL_PAGE_HEADERS)).toBe(true);
  });
});
