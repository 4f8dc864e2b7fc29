import { describe, expect, it } from 'vitest';
import {
  ApprovalId,
  csrfToken,
  newApprovalId,
  normalizeSecrets,
  signApprovalLink,
  verifyApprovalLink,
  verifyCsrf,
} from '../../../lambdas/core/approvals.js';
import { BatonError } from '../../../lambdas/core/errors.js';

const SECRET = `${'a'.repeat(32)}secret-one`;
const OTHER = `${'b'.repeat(32)}secret-two`;
const BASE = 'https://api.example.com';
const REQUESTED = new Date('2030-01-01T00:00:00Z');
const EXPIRES = new Date('2030-01-02T00:00:00Z');

/** Splits a signed URL into the parts a route would receive. */
function partsOf(url: string): { approvalId: string; exp: string; sig: string } {
  const u = new URL(url);
  const approvalId = u.pathname.split('/').at(-1) ?? '';
  return { approvalId, exp: u.searchParams.get('exp') ?? '', sig: u.searchParams.get('sig') ?? '' };
}

/** Flips one character of a base64url string to another valid one. */
function flip(s: string, index = 0): string {
  const c = s[index] === 'A' ? 'B' : 'A';
  return s.slice(0, index) + c + s.slice(index + 1);
}

describe('approval ids', () => {
  it('are 22 base64url characters and differ each time', () => {
    // Prepare
    const n = 1000;
    // Act
    const ids = Array.from({ length: n }, () => newApprovalId());
    // Assess
    expect(new Set(ids).size).toBe(n);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(ApprovalId.safeParse(id).success).toBe(true);
    }
  });

  it('never start with "-", which a command line reads as an option (`baton approve <id>`)', () => {
    // Act: 2,000 ids (without the rule, ~31 of them would start with "-")
    const ids = Array.from({ length: 2000 }, () => newApprovalId());
    // Assess
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids.map((id) => id[0])).size).toBeGreaterThan(50);
  });
});

describe('signApprovalLink / verifyApprovalLink', () => {
  it('signs a link of the documented shape that verifies', () => {
    // Prepare
    const approvalId = newApprovalId();
    // Act
    const link = signApprovalLink({ baseUrl: `${BASE}/`, approvalId, expiresAt: EXPIRES, secret: SECRET });
    const result = verifyApprovalLink({ ...partsOf(link.url), secret: SECRET, now: REQUESTED });
    // Assess
    expect(link.url).toBe(`${BASE}/approvals/${approvalId}?exp=${EXPIRES.getTime() / 1000}&sig=${link.sig}`);
    expect(link.exp).toBe('1893542400');
    expect(link.sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(result).toEqual({ ok: true, expiresAt: EXPIRES });
  });

  it('is deterministic for the same id, expiry and secret, and differs across secrets', () => {
    // Prepare
    const approvalId = newApprovalId();
    // Act
    const a = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: SECRET });
    const b = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: SECRET });
    const c = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: OTHER });
    // Assess
    expect(a.sig).toBe(b.sig);
    expect(c.sig).not.toBe(a.sig);
  });

  it('refuses a tampered signature as bad-signature', () => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: SECRET,
    });
    const parts = partsOf(link.url);
    // Act
    const first = verifyApprovalLink({ ...parts, sig: flip(parts.sig, 0), secret: SECRET, now: REQUESTED });
    const last = verifyApprovalLink({ ...parts, sig: flip(parts.sig, 42), secret: SECRET, now: REQUESTED });
    // Assess
    expect(first).toEqual({ ok: false, reason: 'bad-signature' });
    expect(last).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a tampered id or expiry as bad-signature', () => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: SECRET,
    });
    const parts = partsOf(link.url);
    const laterExp = String(Number(parts.exp) + 3600);
    // Act
    const otherId = verifyApprovalLink({
      ...parts,
      approvalId: newApprovalId(),
      secret: SECRET,
      now: REQUESTED,
    });
    const flippedId = verifyApprovalLink({
      ...parts,
      approvalId: flip(parts.approvalId),
      secret: SECRET,
      now: REQUESTED,
    });
    const extended = verifyApprovalLink({ ...parts, exp: laterExp, secret: SECRET, now: REQUESTED });
    // Assess
    expect(otherId).toEqual({ ok: false, reason: 'bad-signature' });
    expect(flippedId).toEqual({ ok: false, reason: 'bad-signature' });
    expect(extended).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a link signed with an unknown secret as bad-signature', () => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: OTHER,
    });
    // Act
    const result = verifyApprovalLink({ ...partsOf(link.url), secret: SECRET, now: REQUESTED });
    // Assess
    expect(result).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('reads a valid signature past its expiry as expired, from exp on', () => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: SECRET,
    });
    const parts = partsOf(link.url);
    // Act
    const justBefore = verifyApprovalLink({ ...parts, secret: SECRET, now: new Date(EXPIRES.getTime() - 1) });
    const atExpiry = verifyApprovalLink({ ...parts, secret: SECRET, now: EXPIRES });
    const later = verifyApprovalLink({ ...parts, secret: SECRET, now: new Date('2031-01-01T00:00:00Z') });
    // Assess
    expect(justBefore.ok).toBe(true);
    expect(atExpiry).toEqual({ ok: false, reason: 'expired' });
    expect(later).toEqual({ ok: false, reason: 'expired' });
  });

  it('checks the signature before the expiry: a forged expired link reads bad-signature', () => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: SECRET,
    });
    const parts = partsOf(link.url);
    const afterExpiry = new Date('2031-01-01T00:00:00Z');
    // Act
    const forged = verifyApprovalLink({ ...parts, sig: flip(parts.sig), secret: SECRET, now: afterExpiry });
    const forgedPastExp = verifyApprovalLink({
      ...parts,
      exp: '1000000000',
      secret: SECRET,
      now: afterExpiry,
    });
    // Assess
    expect(forged).toEqual({ ok: false, reason: 'bad-signature' });
    expect(forgedPastExp).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it.each([
    ['missing sig', { sig: undefined }],
    ['missing exp', { exp: undefined }],
    ['missing id', { approvalId: undefined }],
    ['short sig', { sig: 'abc' }],
    ['sig with padding', { sig: `${'A'.repeat(42)}=` }],
    ['non-numeric exp', { exp: '12ab' }],
    ['exp with leading zero', { exp: '01893542400' }],
    ['negative exp', { exp: '-5' }],
    ['id with a slash', { approvalId: `${'A'.repeat(21)}/` }],
    ['id too long', { approvalId: 'A'.repeat(23) }],
  ])('reads a %s as malformed', (_label, override) => {
    // Prepare
    const link = signApprovalLink({
      baseUrl: BASE,
      approvalId: newApprovalId(),
      expiresAt: EXPIRES,
      secret: SECRET,
    });
    // Act
    const result = verifyApprovalLink({ ...partsOf(link.url), ...override, secret: SECRET, now: REQUESTED });
    // Assess
    expect(result).toEqual({ ok: false, reason: 'malformed' });
  });

  it('verifies with any secret of a rotation list and signs with the first', () => {
    // Prepare
    const approvalId = newApprovalId();
    const oldLink = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: OTHER });
    const rotated = [SECRET, OTHER];
    // Act
    const newLink = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: rotated });
    const oldResult = verifyApprovalLink({ ...partsOf(oldLink.url), secret: rotated, now: REQUESTED });
    const newResult = verifyApprovalLink({ ...partsOf(newLink.url), secret: rotated, now: REQUESTED });
    const newUnderFirstOnly = verifyApprovalLink({ ...partsOf(newLink.url), secret: SECRET, now: REQUESTED });
    const oldAfterRetirement = verifyApprovalLink({
      ...partsOf(oldLink.url),
      secret: [SECRET],
      now: REQUESTED,
    });
    // Assess
    expect(oldResult.ok).toBe(true);
    expect(newResult.ok).toBe(true);
    expect(newUnderFirstOnly.ok).toBe(true);
    expect(oldAfterRetirement).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses missing or weak secrets and bad inputs when signing', () => {
    // Prepare
    const approvalId = newApprovalId();
    // Act + Assess
    expect(() => normalizeSecrets([])).toThrow(BatonError);
    expect(() => normalizeSecrets('short')).toThrow(/at least 32/);
    expect(() =>
      signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: [SECRET, 'x'] }),
    ).toThrow(/secret #2/);
    expect(() =>
      signApprovalLink({ baseUrl: BASE, approvalId: 'nope', expiresAt: EXPIRES, secret: SECRET }),
    ).toThrow(/malformed approval id/);
    expect(() =>
      signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: new Date(Number.NaN), secret: SECRET }),
    ).toThrow(/not a valid date/);
    expect(() =>
      signApprovalLink({ baseUrl: 'javascript:alert(1)', approvalId, expiresAt: EXPIRES, secret: SECRET }),
    ).toThrow(/baseUrl/);
  });

  it('never puts a secret into an error message', () => {
    // Prepare
    const weak = 'hunter2-weak';
    // Act
    let message = '';
    try {
      normalizeSecrets([SECRET, weak]);
    } catch (err) {
      message = (err as Error).message;
    }
    // Assess
    expect(message).toMatch(/secret #2/);
    expect(message).not.toContain(weak);
    expect(message).not.toContain(SECRET);
  });
});

describe('CSRF tokens', () => {
  it('verify for the approval and link expiry they were made for', () => {
    // Prepare
    const approvalId = newApprovalId();
    const exp = '1893542400';
    // Act
    const token = csrfToken({ approvalId, exp, secret: SECRET });
    // Assess
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyCsrf({ approvalId, exp, token, secret: SECRET })).toBe(true);
  });

  it('are bound to the approval: a token of approval A fails for B', () => {
    // Prepare
    const a = newApprovalId();
    const b = newApprovalId();
    const exp = '1893542400';
    // Act
    const tokenA = csrfToken({ approvalId: a, exp, secret: SECRET });
    // Assess
    expect(verifyCsrf({ approvalId: b, exp, token: tokenA, secret: SECRET })).toBe(false);
  });

  it('are bound to the link expiry and the secret', () => {
    // Prepare
    const approvalId = newApprovalId();
    const token = csrfToken({ approvalId, exp: '1893542400', secret: SECRET });
    // Act + Assess
    expect(verifyCsrf({ approvalId, exp: '1893546000', token, secret: SECRET })).toBe(false);
    expect(verifyCsrf({ approvalId, exp: '1893542400', token, secret: OTHER })).toBe(false);
    expect(verifyCsrf({ approvalId, exp: '1893542400', token, secret: [OTHER, SECRET] })).toBe(true);
  });

  it('differ from the link signature (different purpose), so the sig is not a token', () => {
    // Prepare
    const approvalId = newApprovalId();
    const link = signApprovalLink({ baseUrl: BASE, approvalId, expiresAt: EXPIRES, secret: SECRET });
    // Act
    const token = csrfToken({ approvalId, exp: link.exp, secret: SECRET });
    // Assess
    expect(token).not.toBe(link.sig);
    expect(verifyCsrf({ approvalId, exp: link.exp, token: link.sig, secret: SECRET })).toBe(false);
    expect(
      verifyApprovalLink({ approvalId, exp: link.exp, sig: token, secret: SECRET, now: REQUESTED }),
    ).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses missing or malformed tokens', () => {
    // Prepare
    const approvalId = newApprovalId();
    const exp = '1893542400';
    // Act + Assess
    expect(verifyCsrf({ approvalId, exp, token: undefined, secret: SECRET })).toBe(false);
    expect(verifyCsrf({ approvalId, exp, token: '', secret: SECRET })).toBe(false);
    expect(verifyCsrf({ approvalId, exp, token: 'x'.repeat(500), secret: SECRET })).toBe(false);
  });
});
