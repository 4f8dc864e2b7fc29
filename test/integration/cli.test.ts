/**
 * The real `baton` binary (bin/baton.mjs, as `npx baton` runs it) against the local runtime:
 * submit and follow, failures with exit codes, approvals, --json, readable errors.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskView } from '../../lambdas/core/schemas.js';
import { type Harness, startHarness } from './harness.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PLANS = join(ROOT, 'test/fixtures/plans');
let h: Harness;
const dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

type Result = { code: number; stdout: string; stderr: string };

const env = () => ({ ...process.env, BATON_URL: h.rt.url, BATON_API_KEY: 'test-key' });

/** `npx baton …` from the project, as a user runs it. */
async function npxBaton(...args: string[]): Promise<Result> {
  return settle(run('npx', ['baton', ...args], { cwd: ROOT, env: env() }));
}

/** The bin itself (what `npx baton` runs), without npm's start-up. */
async function baton(...args: string[]): Promise<Result> {
  return settle(run(process.execPath, [join(ROOT, 'bin/baton.mjs'), ...args], { cwd: ROOT, env: env() }));
}

async function settle(p: Promise<{ stdout: string; stderr: string }>): Promise<Result> {
  try {
    const { stdout, stderr } = await p;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A `baton … --follow` running in the background: its output so far, and its end. */
function background(...args: string[]): { child: ChildProcess; stdout: () => string; done: Promise<Result> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/baton.mjs'), ...args], { cwd: ROOT, env: env() });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const done = new Promise<Result>((ok) =>
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr })),
  );
  return { child, stdout: () => stdout, done };
}

/** Waits until the background output matches `re` (or the command ends). */
async function untilOutput(bg: ReturnType<typeof background>, re: RegExp): Promise<RegExpMatchArray> {
  let ended = false;
  void bg.done.then(() => {
    ended = true;
  });
  for (;;) {
    const m = bg.stdout().match(re);
    if (m) return m;
    if (ended) throw new Error(`the command ended without printing ${re}:\n${bg.stdout()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback port nothing listens on (one the OS just handed out and took back). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

const taskIdOf = (stdout: string) => /^task (t_[A-Za-z0-9_-]+)/m.exec(stdout)?.[1] as string;

describe('the baton CLI', () => {
  it('submits a diamond from a file, prints each step as it runs and exits 0 on SUCCEEDED', async () => {
    // Act
    const res = await npxBaton('submit', '--file', join(PLANS, 'diamond.json'), '--follow');
    // Assess
    expect(res.stderr).not.toMatch(/baton:/);
    expect(res.code).toBe(0);
    for (const step of ['a', 'b', 'c', 'd']) {
      expect(res.stdout).toMatch(new RegExp(`^step ${step}\\s+echo\\s+RUNNING\\s+attempt 1$`, 'm'));
      expect(res.stdout).toMatch(new RegExp(`^step ${step}\\s+echo\\s+SUCCEEDED\\s+1 attempt\\s+\\d`, 'm'));
    }
    // d starts only after b and c succeeded.
    const at = (line: RegExp) => res.stdout.search(line);
    expect(at(/^step d\s+echo\s+RUNNING/m)).toBeGreaterThan(at(/^step b\s+echo\s+SUCCEEDED/m));
    expect(at(/^step d\s+echo\s+RUNNING/m)).toBeGreaterThan(at(/^step c\s+echo\s+SUCCEEDED/m));
    expect(res.stdout).toMatch(/^task t_\S+\s+SUCCEEDED\s+4 steps/m);
    const task = await h.task(taskIdOf(res.stdout));
    expect(task).toMatchObject({ goal: 'A diamond from the CLI', status: 'SUCCEEDED' });
  });

  it('exits 1 naming the failed step when a plan fails', async () => {
    // Act
    const res = await npxBaton('submit', '--file', join(PLANS, 'failing.json'), '--follow');
    // Assess
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^step first\s+echo\s+SUCCEEDED/m);
    expect(res.stdout).toMatch(/^step broken\s+fail\s+FAILED\s+1 attempt/m);
    expect(res.stdout).toMatch(/^step after\s+echo\s+SKIPPED\s+dependency broken failed/m);
    expect(res.stderr).toMatch(
      /^baton: task t_\S+ ended FAILED; .*step broken failed: .*broken always fails/m,
    );
  });

  it('approves a gated step with a comment, and the follow then succeeds', async () => {
    // Prepare
    const follow = background('submit', '--file', join(PLANS, 'gated.json'), '--follow');
    const [, approvalId] = await untilOutput(follow, /approval (\S+) \(step\): baton approve/);
    // Act
    const res = await baton('approve', approvalId as string, '--comment', 'ship it');
    // Assess
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      new RegExp(`^approval ${approvalId} \\(step publish of t_\\S+\\): approve by api-key`),
    );
    const ended = await follow.done;
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain(`approval ${approvalId} approve by api-key: ship it`);
    expect(ended.stdout).toMatch(/^step publish\s+echo\s+SUCCEEDED/m);
  });

  it('rejects a gated step: the follow exits 1 naming it, the comment is in the audit trail', async () => {
    // Prepare
    const follow = background('submit', '--file', join(PLANS, 'gated.json'), '--follow');
    const [, approvalId] = await untilOutput(follow, /approval (\S+) \(step\): baton approve/);
    // Act
    const res = await baton('reject', approvalId as string, '--comment', 'not this week', '--json');
    // Assess
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).approval).toMatchObject({
      id: approvalId,
      status: 'DECIDED',
      decision: { decision: 'reject', comment: 'not this week', via: 'api' },
    });
    const ended = await follow.done;
    expect(ended.code).toBe(1);
    expect(ended.stderr).toMatch(/ended FAILED; .*step publish failed/);
    const decided = (await h.events(taskIdOf(ended.stdout))).find((e) => e.type === 'ApprovalDecided');
    expect(decided?.data).toMatchObject({ decision: 'reject', comment: 'not this week' });
  });

  it('prints the API documents with --json, one object per line when following', async () => {
    // Act
    const followed = await baton('submit', '--file', join(PLANS, 'diamond.json'), '--follow', '--json');
    // Assess
    expect(followed.code).toBe(0);
    const lines = followed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, -1).every((l) => typeof l.event?.type === 'string')).toBe(true);
    const last = lines.at(-1);
    expect(TaskView.parse(last.task).status).toBe('SUCCEEDED');
    const taskId = last.task.taskId as string;
    const status = TaskView.parse(JSON.parse((await baton('status', taskId, '--json')).stdout));
    expect(status.plan.steps.map((s) => s.status)).toEqual([
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
    ]);
    const events = JSON.parse((await baton('events', taskId, '--json')).stdout).events;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(lines.slice(0, -1).map((l) => l.event.seq));
    expect(events.at(-1).type).toBe('TaskSucceeded');
    const listed = JSON.parse((await baton('list', '--status', 'SUCCEEDED', '--json')).stdout);
    expect(listed.tasks.map((t: { taskId: string }) => t.taskId)).toContain(taskId);
  });

  it('shows status, events and artifacts as lines, and gets an artifact to a file', async () => {
    // Prepare
    const taskId = await h.submit({
      goal: 'bytes',
      plan: { steps: [{ id: 'blob', agent: 'bulky', input: { bytes: 100 } }] },
    });
    await h.waitFor(taskId, ['SUCCEEDED']);
    // Act
    const status = await baton('status', taskId);
    const events = await baton('events', taskId);
    const artifacts = await baton('artifacts', taskId, '--json');
    const artifactId = JSON.parse(artifacts.stdout).artifacts[0].id as string;
    const out = join(dir, 'blob.bin');
    const got = await baton('get', taskId, artifactId, '--out', out);
    // Assess
    expect(status.stdout).toMatch(new RegExp(`^task ${taskId}\\s+SUCCEEDED`, 'm'));
    expect(status.stdout).toMatch(/^step blob\s+bulky\s+SUCCEEDED\s+1 attempt\s+\S+\s+made 100 bytes$/m);
    expect(events.stdout).toMatch(/^\d+\s+\S+\s+TaskSubmitted/m);
    expect(events.stdout).toMatch(/^\d+\s+\S+\s+TaskSucceeded/m);
    expect(got.code).toBe(0);
    const bytes = readFileSync(out);
    expect(bytes.length).toBe(100);
    expect(bytes[1]).toBe((1 * 31 + 7) & 0xff);
  });

  it('prints the problem of a refused request, exits 3 and creates nothing', async () => {
    // Prepare
    const plan = join(dir, 'cycle.json');
    writeFileSync(plan, JSON.stringify({ steps: [{ id: 'a', agent: 'echo', dependsOn: ['a'] }] }));
    const before = JSON.parse((await baton('list', '--json', '--limit', '100')).stdout).tasks.length;
    // Act
    const res = await baton('submit', '--goal', 'bad', '--file', plan);
    // Assess
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('baton: 400 Invalid request: The plan is not valid');
    expect(res.stderr).toContain('  - plan.steps[0].dependsOn[0]: step "a" depends on itself');
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(JSON.parse((await baton('list', '--json', '--limit', '100')).stdout).tasks.length).toBe(before);
  });

  it('exits 3 for an unknown task and a wrong key, 2 for usage mistakes, 4 when Baton is unreachable', async () => {
    // Act
    const unknown = await baton('status', 't_nope');
    const wrongKey = await settle(
      run(process.execPath, [join(ROOT, 'bin/baton.mjs'), 'list'], {
        cwd: ROOT,
        env: { ...env(), BATON_API_KEY: 'wrong' },
      }),
    );
    const noGoal = await baton('submit');
    const unknownCommand = await baton('frobnicate');
    const missingFile = await baton('submit', '--goal', 'x', '--file', join(dir, 'nope.json'));
    const closed = await closedPort();
    const unreachable = await baton('list', '--url', `http://127.0.0.1:${closed}`);
    // Assess
    expect([unknown.code, unknown.stderr]).toEqual([3, 'baton: 404 Not found: No task t_nope.\n']);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toMatch(/^baton: 401 Unauthorized/);
    expect([noGoal.code, noGoal.stderr]).toEqual([
      2,
      'baton: submit needs a goal: --goal "<text>", or "goal" in the --file\n',
    ]);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "frobnicate"');
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toMatch(/cannot read the task from .*nope\.json/);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(
      new RegExp(`^baton: cannot reach Baton at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`),
    );
  });
});
