import { describe, expect, it } from 'vitest';
import { approvalConflictError } from '../../../lambdas/api/approvals.js';
import { problemFor } from '../../../lambdas/api/http.js';
import {
  ApprovalRecord,
  DecisionBody,
  decideTransition,
  newApprovalId,
  parseLinkDecisionForm,
  StoredApproval,
  toApprovalRecord,
} from '../../../lambdas/core/approvals.js';
import { BatonError, ConflictError, ValidationError } from '../../../lambdas/core/errors.js';

const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAR-secret-task-token';

function pending(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: newApprovalId(),
    taskId: 'task-1',
    stepId: 'draft',
    kind: 'step',
    status: 'PENDING',
    requestedAt: '2030-01-01T00:00:00.000Z',
    expiresAt: '2030-01-02T00:00:00.000Z',
    ...overrides,
  };
}

const T1 = new Date('2030-01-01T10:00:00.000Z');
const T2 = new Date('2030-01-01T11:00:00.000Z');

describe('decideTransition', () => {
  it('turns a pending approval into a decided one with who, what, when and how', () => {
    // Prepare
    const record = pending();
    // Act
    const result = decideTransition(
      record,
      { decision: 'approve', approver: '  Ada  ', comment: 'ok', via: 'link' },
      T1,
    );
    // Assess
    expect(result).toEqual({
      ok: true,
      record: {
        ...record,
        status: 'DECIDED',
        decision: { decision: 'approve', approver: 'Ada', comment: 'ok', via: 'link', at: T1.toISOString() },
      },
      decision: { decision: 'approve', approver: 'Ada', comment: 'ok', via: 'link', at: T1.toISOString() },
    });
    if (result.ok) expect(ApprovalRecord.parse(result.record)).toEqual(result.record);
    expect(record.status).toBe('PENDING');
  });

  it('reports a second decision as a conflict carrying the first one (what, by whom, when)', () => {
    // Prepare
    const record = pending();
    const first = decideTransition(record, { decision: 'reject', approver: 'Ada', via: 'link' }, T1);
    if (!first.ok) throw new Error('the first decision must succeed');
    // Act
    const second = decideTransition(
      first.record,
      { decision: 'approve', approver: 'Mallory', via: 'api' },
      T2,
    );
    // Assess
    expect(second).toEqual({
      ok: false,
      conflict: {
        reason: 'already-decided',
        approvalId: record.id,
        decision: { decision: 'reject', approver: 'Ada', via: 'link', at: T1.toISOString() },
      },
    });
    if (second.ok) throw new Error('the second decision must conflict');
    const problem = approvalConflictError(second.conflict);
    expect(problem).toBeInstanceOf(ConflictError);
    expect(problemFor(problem)?.status).toBe(409);
    expect(problem.extra).toEqual({
      decided: { decision: 'reject', approver: 'Ada', at: T1.toISOString(), via: 'link' },
    });
  });

  it('refuses a decision at or after expiry as expired (410)', () => {
    // Prepare
    const record = pending();
    const atExpiry = new Date(record.expiresAt);
    // Act
    const result = decideTransition(record, { decision: 'approve', approver: 'Ada', via: 'api' }, atExpiry);
    // Assess
    expect(result).toEqual({
      ok: false,
      conflict: { reason: 'expired', approvalId: record.id, expiresAt: record.expiresAt },
    });
    if (result.ok) throw new Error('a late decision must conflict');
    expect(problemFor(approvalConflictError(result.conflict))?.status).toBe(410);
  });

  it('records a timeout as an EXPIRED rejection, after which decisions conflict as expired', () => {
    // Prepare
    const record = pending();
    const late = new Date('2030-01-02T00:00:05.000Z');
    // Act
    const timedOut = decideTransition(
      record,
      { decision: 'reject', approver: 'baton:timeout', via: 'timeout' },
      late,
    );
    if (!timedOut.ok) throw new Error('the timeout must apply');
    const afterwards = decideTransition(
      timedOut.record,
      { decision: 'approve', approver: 'Ada', via: 'link' },
      late,
    );
    // Assess
    expect(timedOut.record.status).toBe('EXPIRED');
    expect(timedOut.decision).toEqual({
      decision: 'reject',
      approver: 'baton:timeout',
      via: 'timeout',
      at: late.toISOString(),
    });
    expect(afterwards).toEqual({
      ok: false,
      conflict: {
        reason: 'expired',
        approvalId: record.id,
        expiresAt: record.expiresAt,
        decision: timedOut.decision,
      },
    });
  });

  it('never lets a timeout approve', () => {
    // Prepare
    const record = pending();
    // Act + Assess
    expect(() =>
      decideTransition(record, { decision: 'approve', approver: 'x', via: 'timeout' }, T1),
    ).toThrow(BatonError);
  });

  it('refuses an invalid decision with a ValidationError', () => {
    // Prepare
    const record = pending();
    // Act + Assess
    expect(() => decideTransition(record, { decision: 'approve', approver: '   ', via: 'link' }, T1)).toThrow(
      ValidationError,
    );
    expect(() =>
      decideTransition(
        record,
        { decision: 'approve', approver: 'Ada', comment: 'x'.repeat(2001), via: 'link' },
        T1,
      ),
    ).toThrow(ValidationError);
    expect(() =>
      decideTransition(record, { decision: 'approve', approver: 'Ada\nINFO forged', via: 'link' }, T1),
    ).toThrow(ValidationError);
  });

  it('never carries the task token into the new record, even from a stored item', () => {
    // Prepare
    const stored: StoredApproval = { ...pending(), taskToken: TOKEN };
    // Act
    const result = decideTransition(stored, { decision: 'approve', approver: 'Ada', via: 'link' }, T1);
    // Assess
    expect(result.ok).toBe(true);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
    expect(result.ok && 'taskToken' in result.record).toBe(false);
  });
});

describe('approval records', () => {
  it('toApprovalRecord and ApprovalRecord.parse drop the task token', () => {
    // Prepare
    const stored = StoredApproval.parse({ ...pending(), taskToken: TOKEN });
    // Act
    const copied = toApprovalRecord(stored);
    const parsed = ApprovalRecord.parse(stored);
    // Assess
    expect(JSON.stringify(copied)).not.toContain(TOKEN);
    expect(JSON.stringify(parsed)).not.toContain(TOKEN);
    expect(copied).toEqual(parsed);
  });

  it('enforce the shape of step and plan gates and of decided records', () => {
    // Prepare
    const base = pending();
    // Act
    const stepWithoutStep = ApprovalRecord.safeParse({ ...base, stepId: undefined });
    const planWithStep = ApprovalRecord.safeParse({ ...base, kind: 'plan' });
    const plan = ApprovalRecord.safeParse({ ...base, kind: 'plan', stepId: undefined });
    const decidedWithoutDecision = ApprovalRecord.safeParse({ ...base, status: 'DECIDED' });
    // Assess
    expect(stepWithoutStep.success).toBe(false);
    expect(planWithStep.success).toBe(false);
    expect(plan.success).toBe(true);
    expect(decidedWithoutDecision.success).toBe(false);
  });
});

describe('request bodies', () => {
  it('DecisionBody accepts approve/reject with an optional comment of at most 2000 characters', () => {
    // Act + Assess
    expect(DecisionBody.parse({ decision: 'reject', comment: 'no' })).toEqual({
      decision: 'reject',
      comment: 'no',
    });
    expect(DecisionBody.safeParse({ decision: 'maybe' }).success).toBe(false);
    expect(DecisionBody.safeParse({ decision: 'approve', comment: 'x'.repeat(2001) }).success).toBe(false);
    expect(DecisionBody.safeParse({ decision: 'approve', approver: 'self-declared' }).success).toBe(false);
  });

  it('parseLinkDecisionForm reads the urlencoded form and drops a blank comment', () => {
    // Prepare
    const body = new URLSearchParams({
      csrf: 'c'.repeat(43),
      exp: '1893542400',
      sig: 's'.repeat(43),
      decision: 'approve',
      approver: 'Ada Lovelace',
      comment: '  ',
    }).toString();
    // Act
    const form = parseLinkDecisionForm(body);
    // Assess
    expect(form).toEqual({
      csrf: 'c'.repeat(43),
      exp: '1893542400',
      sig: 's'.repeat(43),
      decision: 'approve',
      approver: 'Ada Lovelace',
    });
  });

  it('parseLinkDecisionForm refuses missing fields, a missing approver and repeated fields', () => {
    // Prepare
    const valid = `csrf=${'c'.repeat(43)}&exp=1893542400&sig=${'s'.repeat(43)}`;
    // Act
    const errors = [
      `${valid}&approver=Ada`,
      `${valid}&decision=approve&approver=`,
      `${valid}&decision=approve&decision=reject&approver=Ada`,
      `decision=approve&approver=Ada`,
    ].map((body) => {
      try {
        parseLinkDecisionForm(body);
        return undefined;
      } catch (err) {
        return err;
      }
    });
    // Assess
    for (const err of errors) expect(err).toBeInstanceOf(ValidationError);
    expect((errors[0] as ValidationError).issues?.map((i) => i.path)).toEqual(['decision']);
    expect((errors[1] as ValidationError).issues?.map((i) => i.path)).toEqual(['approver']);
    expect((errors[2] as ValidationError).issues?.[0]?.message).toBe('"decision" was sent more than once');
    expect((errors[3] as ValidationError).issues?.map((i) => i.path).sort()).toEqual(['csrf', 'exp', 'sig']);
  });
});
