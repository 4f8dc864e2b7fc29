/**
 * A person approves a gated step in a real browser: Playwright drives Debian's chromium through
 * the approval link's page (the form, the CSP, the same-origin POST) against the local runtime.
 * Needs /usr/bin/chromium (`apt-get install -y chromium`); skipped with a message without it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../integration/harness.js';
import { CHROMIUM, chromiumAvailable, launchChromium } from './chromium.js';

const available = chromiumAvailable;
if (!available) {
  console.warn(
    `[browser tests] skipped: ${CHROMIUM} is missing; install it with: apt-get install -y chromium`,
  );
}

describe.skipIf(!available)('approval page in a browser', () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    h = await startHarness();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('opens the link, fills in name and comment, approves, sees the result, and the task completes', async () => {
    // Prepare: a gated step, waiting for its approval
    const submitted = await h.api('POST', '/tasks', {
      goal: 'Send the newsletter',
      plan: { steps: [{ id: 'send', agent: 'echo', input: { list: 'subscribers' }, approval: 'before' }] },
    });
    const taskId = String(submitted.body.taskId);
    await h.waitFor(taskId, ['AWAITING_APPROVAL']);
    const listing = await h.api<{ approvals: { taskId: string; url: string }[] }>(
      'GET',
      '/approvals?status=PENDING',
    );
    const url = listing.body.approvals.find((a) => a.taskId === taskId)?.url as string;
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });

    // Act: what the approver does
    await page.goto(url);
    const heading = await page.locator('h1').textContent();
    const goal = await page.locator('.goal').first().textContent();
    await page.check('#decision-approve');
    await page.fill('#approver', 'Ada Lovelace');
    await page.fill('#comment', 'Looks good to me');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    await page.locator('h1', { hasText: 'Approved' }).waitFor();

    // Assess: the page, the result page, the task, the audit trail
    expect(heading).toBe('Approve step send?');
    expect(goal).toBe('Send the newsletter');
    expect(await page.locator('main').textContent()).toContain('Ada Lovelace');
    expect(consoleErrors).toEqual([]); // no CSP violation
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    expect(task.status).toBe('SUCCEEDED');
    const events = await h.api<{ events: { type: string; data: Record<string, unknown> }[] }>(
      'GET',
      `/tasks/${taskId}/events`,
    );
    expect(events.body.events.find((e) => e.type === 'ApprovalDecided')?.data).toMatchObject({
      decision: 'approve',
      approver: 'Ada Lovelace',
      comment: 'Looks good to me',
      via: 'link',
    });
  });
});
