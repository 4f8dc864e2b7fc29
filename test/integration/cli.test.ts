import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
let h: Harness;
const dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function baton(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/baton.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, BATON_URL: h.rt.url, BATON_API_KEY: 'test-key' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the baton CLI', () => {
  it('submits a plan from a file and waits for the result', async () => {
    const plan = join(dir, 'plan.json');
    writeFileSync(
      plan,
      JSON.stringify({
        steps: [
          { id: 'a', agent: 'echo' },
          { id: 'b', agent: 'echo', dependsOn: ['a'] },
        ],
      }),
    );
    const res = await baton('submit', '--goal', 'from the cli', '--plan', plan, '--wait');
    expect(res.code).toBe(0);
    const task = JSON.parse(res.stdout);
    expect(task).toMatchObject({ goal: 'from the cli', status: 'SUCCEEDED' });
    const events = JSON.parse((await baton('events', task.taskId)).stdout);
    expect(events.events.at(-1).type).toBe('TaskSucceeded');
  });

  it('prints a readable error for bad input and changes nothing', async () => {
    const plan = join(dir, 'cycle.json');
    writeFileSync(plan, JSON.stringify({ steps: [{ id: 'a', agent: 'echo', dependsOn: ['a'] }] }));
    const before = JSON.parse((await baton('list')).stdout).tasks.length;
    const res = await baton('submit', '--goal', 'bad', '--plan', plan);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('baton: 400 Invalid request: The plan is not valid');
    expect(res.stderr).toContain('  - plan.steps[0].dependsOn[0]: step "a" depends on itself');
    expect(JSON.parse((await baton('list')).stdout).tasks.length).toBe(before);
  });

  it('explains usage mistakes', async () => {
    expect((await baton('submit')).stderr).toContain('submit needs --goal');
    expect((await baton('frobnicate')).stderr).toContain('unknown command "frobnicate"');
    const missing = await baton('submit', '--goal', 'x', '--plan', join(dir, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the plan from .*nope\.json/);
  });
});
