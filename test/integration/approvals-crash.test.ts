/**
 * An approval gate survives a crash of the local runtime: killed with SIGKILL while a step
 * waits for its approval and started again on the same data directory, the same approval (and
 * link) still decides the step, and nothing is requested or run twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_CONFIG } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'baton-approval-crash-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/** `npm start` as its own process, on a fixed port and data dir (links carry the port). */
async function startRuntime(port: number): Promise<ChildProcess> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    BATON_DATA_DIR: dataDir,
    BATON_CONFIG: FIXTURE_CONFIG,
    BATON_API_KEY: 'crash-key',
  };
  delete env.BATON_PUBLIC_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((ok, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Baton is running locally')) ok();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => fail(new Error(`runtime exited with ${code}: ${output.slice(-2000)}`)));
  });
  return child;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Event = { type: string; stepId?: string; data: Record<string, unknown> };

describe('kill -9 while a step waits for its approval', () => {
  it('keeps the approval and its link: after the restart the same decision runs the step once', async () => {
    // Prepare: a -> b, b gated; the runtime is killed while b waits
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: 'Bearer crash-key', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const first = await startRuntime(port);
    const created = await api('POST', '/tasks', {
      goal: 'survive a crash',
      plan: {
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'b', agent: 'echo', dependsOn: ['a'], approval: 'before' },
        ],
      },
    });
    const taskId = String(created.body.taskId);
    const approval = await until('the approval', async () => {
      const list = await api('GET', '/approvals?status=PENDING');
      return (list.body.approvals as { id: string; taskId: string; url: string }[]).find(
        (a) => a.taskId === taskId,
      );
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // Act: restart, open the same link, approve through its form
    await startRuntime(port);
    const shown = await fetch(approval.url);
    const html = await shown.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
    const decided = await fetch(`${base}/approvals/${approval.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({
        csrf: field('csrf'),
        exp: field('exp'),
        sig: field('sig'),
        decision: 'approve',
        approver: 'Ada',
      }),
    });
    const task = await until('the end of the task', async () => {
      const t = await api('GET', `/tasks/${taskId}`);
      return ['SUCCEEDED', 'FAILED'].includes(String(t.body.status)) ? t.body : undefined;
    });

    // Assess
    expect(shown.status).toBe(200);
    expect(decided.status).toBe(200);
    expect(task.status).toBe('SUCCEEDED');
    const events = (await api('GET', `/tasks/${taskId}/events?limit=1000`)).body.events as Event[];
    expect(events.some((e) => e.type === 'ExecutionResumed')).toBe(true);
    expect(events.filter((e) => e.type === 'ApprovalRequested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ApprovalDecided').map((e) => e.data.approver)).toEqual(['Ada']);
    expect(events.filter((e) => e.type === 'StepStarted').map((e) => e.stepId)).toEqual(['a', 'b']);
  });
});
