/**
 * The console in a real browser against the local runtime: a person submits a diamond plan from
 * the form and watches the graph's nodes turn green without reloading, previews an artifact,
 * approves a gate from the inbox on a phone-sized screen; axe-core finds no serious or critical
 * accessibility violation on the pages. Screenshots go to test/browser/screenshots/ (gitignored).
 * Needs /usr/bin/chromium (`apt-get install -y chromium`); skipped with a message without it.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../integration/harness.js';
import { CHROMIUM, chromiumAvailable, launchChromium } from './chromium.js';

const available = chromiumAvailable;
if (!available) {
  console.warn(
    `[browser tests] skipped: ${CHROMIUM} is missing; install it with: apt-get install -y chromium`,
  );
}
const SCREENSHOTS = join(import.meta.dirname, 'screenshots');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] };

/**
 * axe-core in the page (evaluated through the DevTools protocol, so the page's CSP allows it); the
 * page's code is given as text, since this file is compiled without the DOM's types.
 */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  )) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`,
    );
}

/** Records every data-status a plan node takes, from the first render on (runs before the page's scripts). */
const RECORD_NODE_STATUSES = `
  window.statusLog = {};
  const note = (el) => {
    const step = el.getAttribute('data-step');
    const status = el.getAttribute('data-status');
    if (!step || !status || el.tagName.toLowerCase() !== 'g') return;
    const seen = (window.statusLog[step] ??= []);
    if (seen.at(-1) !== status) seen.push(status);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') note(r.target);
      for (const n of r.addedNodes)
        if (n instanceof Element) for (const el of [n, ...n.querySelectorAll('[data-step]')]) note(el);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
`;

/** How far the page is wider than the screen (a phone layout must not scroll sideways). */
const SIDEWAYS_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';

describe.skipIf(!available)('console in a browser', () => {
  let h: Harness;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    h = await startHarness();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('is served at / without a key, and asks for the key when the URL carries none', async () => {
    // Act
    const res = await fetch(`${h.rt.url}/`);
    const page = await browser.newPage();
    await page.goto(`${h.rt.url}/`);
    await page.fill('#api-key', 'test-key');
    await page.click('button[type=submit]');
    await page.locator('h1', { hasText: 'Tasks' }).waitFor();
    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.evaluate("sessionStorage.getItem('baton.apiKey')")).toBe('test-key');
    await page.close();
  });

  it('submits a diamond plan from the form; the graph turns green live; an artifact previews', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript({ content: RECORD_NODE_STATUSES });
    let loads = 0;
    page.on('load', () => {
      loads += 1;
    });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(h.rt.consoleUrl);
    await page.locator('h1', { hasText: 'Tasks' }).waitFor();

    // Act: the form, with the example diamond plan
    await page.click('nav >> text=New task');
    await page.click('text=Use the example diamond plan');
    await page.fill('#goal', 'Console diamond: solar and wind');
    await page.screenshot({ path: join(SCREENSHOTS, 'submit-form.png'), fullPage: true });
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/tasks\/t_/);
    const taskId = decodeURIComponent(page.url().split('#/tasks/')[1] ?? '');
    for (const step of ['a', 'b', 'c', 'd'])
      await page.locator(`g[data-step="${step}"][data-status="SUCCEEDED"]`).waitFor({ timeout: 60_000 });
    await page.locator('article.task[data-status="SUCCEEDED"]').waitFor();
    // The header's status comes from a reload of the task view, the timeline from the event feed,
    // whose next long poll may follow a second later: the timeline catches up on its own
    await page.locator('.timeline li[data-event="TaskSucceeded"]').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'task-graph.png'), fullPage: true });
    await page.click('[data-artifact="document.md"] button:has-text("Preview")');
    const preview = page.locator('.preview[data-preview="markdown"] .markdown');
    await preview.locator('h1').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'artifact-preview.png'), fullPage: true });
    await page.click('g[data-step="d"]');
    // The graph by keyboard: a node is a button
    await page.locator('g[data-step="b"]').focus();
    await page.keyboard.press('Enter');
    const keyboardDetail = await page.locator('[data-step-detail] h2').textContent();
    await page.click('g[data-step="d"]');
    const statusLog = (await page.evaluate('window.statusLog')) as Record<string, string[]>;
    const violations = await seriousViolations(page);

    // Assess: one page load, each node seen before and after it succeeded, the same task in the API
    expect(loads).toBe(1);
    for (const step of ['a', 'b', 'c', 'd']) {
      expect(statusLog[step]?.at(-1), step).toBe('SUCCEEDED');
      expect(statusLog[step]?.length, `${step}: ${statusLog[step]}`).toBeGreaterThan(1);
    }
    expect((await h.task(taskId)).goal).toBe('Console diamond: solar and wind');
    expect(await preview.locator('h1').textContent()).toBe('Energy brief');
    expect(await page.locator('[data-step-detail="d"] h2').textContent()).toBe('Step d');
    expect(keyboardDetail).toBe('Step b');
    expect(await page.locator('.timeline li[data-event="TaskSucceeded"]').count()).toBe(1);
    expect(violations).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('previews a CSV artifact as a table', async () => {
    // Prepare: a data step over a CSV dataset (it writes result.csv)
    const taskId = await h.submit({
      goal: 'Profile the sales',
      inputs: {
        datasets: [
          {
            name: 'sales.csv',
            contentType: 'text/csv',
            body: 'region,amount\nnorth,10\nsouth,32\nnorth,5\n',
          },
        ],
      },
      plan: {
        steps: [
          {
            id: 'sum',
            agent: 'data',
            input: {
              dataset: 'sales',
              groupBy: ['region'],
              aggregate: { fn: 'sum', column: 'amount', as: 'total' },
            },
          },
        ],
      },
    });
    await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(h.rt.consoleUrl);
    await page.locator('h1', { hasText: 'Tasks' }).waitFor();

    // Act
    await page.click('text=Profile the sales');
    await page.click('[data-artifact="result.csv"] button:has-text("Preview")');
    const table = page.locator('.preview[data-preview="csv"] table.csv');
    await table.waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'csv-preview.png'), fullPage: true });

    // Assess
    expect(await table.locator('thead th').allTextContents()).toEqual(['region', 'total']);
    expect(await table.locator('tbody tr').count()).toBe(2);
    await page.close();
  });

  it('cancels a waiting task and redrives a failed one from the task page', async () => {
    // Prepare: one task parked at a gate, one that failed
    const waiting = await h.submit({
      goal: 'Wait for me',
      plan: { steps: [{ id: 'w', agent: 'echo', approval: 'before' }] },
    });
    const failed = await h.submit({
      goal: 'Fail once',
      plan: { steps: [{ id: 'f', agent: 'fail', retry: { maxAttempts: 1 } }] },
    });
    await h.waitFor(waiting, ['AWAITING_APPROVAL']);
    await h.waitFor(failed, ['FAILED']);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(h.rt.consoleUrl);
    await page.locator('h1', { hasText: 'Tasks' }).waitFor();

    // Act
    await page.goto(`${h.rt.url}/#/tasks/${waiting}`);
    await page.click('button:has-text("Cancel task")');
    await page.locator('article.task[data-status="CANCELLED"]').waitFor();
    await page.goto(`${h.rt.url}/#/tasks/${failed}`);
    await page.locator('.error-text', { hasText: 'f always fails' }).first().waitFor();
    await page.click('button:has-text("Redrive")');
    await page.locator('.timeline li[data-event="TaskRedriven"]').waitFor();
    await page.locator('article.task[data-status="FAILED"] g[data-step="f"][data-status="FAILED"]').waitFor();

    // Assess: what the API says happened
    expect((await h.task(waiting)).status).toBe('CANCELLED');
    const trail = await h.events(failed);
    expect(trail.filter((e) => e.type === 'TaskRedriven')).toHaveLength(1);
    expect((await h.waitFor(failed, ['FAILED'])).status).toBe('FAILED');
    await page.close();
  });

  it('approves a gate from the inbox on a phone-sized screen, with a comment', async () => {
    // Prepare: a gated step waiting for its approval
    const taskId = await h.submit({
      goal: 'Send the newsletter from the phone',
      plan: {
        steps: [
          { id: 'draft', agent: 'echo', input: { text: 'hello' } },
          { id: 'send', agent: 'echo', dependsOn: ['draft'], approval: 'before' },
        ],
      },
    });
    await h.waitFor(taskId, ['AWAITING_APPROVAL']);
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await context.newPage();
    await page.goto(h.rt.consoleUrl);
    await page.click('nav >> text=Approvals');
    const card = page.locator('li.approval', { hasText: 'Send the newsletter from the phone' });
    await card.waitFor();
    // The signed approval page (what the link in a message opens) on the same phone: it only shows
    const linkPage = await context.newPage();
    await linkPage.goto(await card.locator('a.secondary-link').getAttribute('href').then(String));
    await linkPage.locator('h1', { hasText: 'Approve step send?' }).waitFor();
    await linkPage.screenshot({ path: join(SCREENSHOTS, 'phone-approval-link.png'), fullPage: true });
    const linkOverflow = (await linkPage.evaluate(SIDEWAYS_OVERFLOW)) as number;
    await linkPage.close();

    // Act
    await card.locator('textarea').fill('Ship it');
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-approvals.png'), fullPage: true });
    const overflow = (await page.evaluate(SIDEWAYS_OVERFLOW)) as number;
    const violations = await seriousViolations(page);
    await card.locator('button.approve').tap();
    await page.locator('.notice', { hasText: 'Approved step send' }).waitFor();
    const task = await h.waitFor(taskId, ['SUCCEEDED', 'FAILED']);
    await page.goto(`${h.rt.url}/#/tasks/${taskId}`);
    await page.locator('g[data-step="send"][data-status="SUCCEEDED"]').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'phone-task.png'), fullPage: true });
    const taskOverflow = (await page.evaluate(SIDEWAYS_OVERFLOW)) as number;

    // Assess: decided through the API as the console's principal, with the comment; the page fits
    expect(task.status).toBe('SUCCEEDED');
    const decided = (await h.events(taskId)).find((e) => e.type === 'ApprovalDecided');
    expect(decided?.data).toMatchObject({ decision: 'approve', comment: 'Ship it', via: 'api' });
    expect(overflow).toBeLessThanOrEqual(0);
    expect(linkOverflow).toBeLessThanOrEqual(0);
    expect(taskOverflow).toBeLessThanOrEqual(0);
    expect(violations).toEqual([]);
    await context.close();
  });
});
