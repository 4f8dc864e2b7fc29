import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ToolDisabledError } from '../../../lambdas/tools/errors.js';
import { createShellTool, type ShellInput } from '../../../lambdas/tools/shell.js';
import type { ToolContext } from '../../../lambdas/tools/types.js';

/** Alive and not a zombie (a killed orphan may linger as a zombie until its new parent reaps it). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const ctx: ToolContext = { taskId: 't-1', stepId: 'code' };
const shell = createShellTool({ enabled: true, timeoutMs: 10_000 });
const run = (input: unknown) => shell.handler(shell.inputSchema.parse(input) as ShellInput, ctx);

describe('shell tool', () => {
  const saved = process.env.AWS_SECRET_ACCESS_KEY;
  beforeEach(() => {
    process.env.AWS_SECRET_ACCESS_KEY = 'parent-secret-do-not-leak';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved;
  });

  it('runs an argv command and reports exit code and output', async () => {
    // Act
    const out = await run({ command: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'] });
    // Assess
    expect(out).toMatchObject({
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
      truncated: false,
    });
  });

  it('runs a shell string in a scratch directory with input files and lists produced files', async () => {
    // Prepare
    const input = {
      command: 'wc -l < data/in.txt > count.txt && pwd && cat data/in.txt | tr a-z A-Z',
      files: [{ path: 'data/in.txt', content: 'one\ntwo\nthree\n' }],
      readFiles: ['count.txt'],
    };
    // Act
    const out = await run(input);
    // Assess
    expect(out.exitCode).toBe(0);
    const [cwd, ...rest] = out.stdout.split('\n');
    expect(cwd).toMatch(/baton-shell-/);
    expect(rest.join('\n')).toBe('ONE\nTWO\nTHREE\n');
    expect(out.files).toEqual([{ path: 'count.txt', size: 2 }]);
    expect(out.fileContents).toEqual([{ path: 'count.txt', content: '3\n', truncated: false }]);
    expect(existsSync(cwd as string)).toBe(false); // scratch dir removed
  });

  it('gives the command a clean environment', async () => {
    // Act
    const out = await run({ command: ['env'] });
    // Assess
    expect(process.env.AWS_SECRET_ACCESS_KEY).toBe('parent-secret-do-not-leak');
    expect(out.stdout).not.toContain('parent-secret-do-not-leak');
    expect(out.stdout).not.toContain('AWS_');
    const vars = out.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=')[0]);
    expect(vars.sort()).toEqual(['HOME', 'PATH']);
    expect(out.stdout).toContain('PATH=/usr/bin:/bin\n');
  });

  it('kills a command that runs past its time limit, with its whole process group', async () => {
    // Prepare
    const tool = createShellTool({ enabled: true, timeoutMs: 300 });
    // Act
    const out = await tool.handler(
      tool.inputSchema.parse({
        command: 'sleep 30 >/dev/null 2>&1 </dev/null & echo $!; sleep 5; echo never',
      }),
      ctx,
    );
    // Assess
    expect(out.timedOut).toBe(true);
    expect(out.exitCode).toBeNull();
    expect(out.signal).toBe('SIGKILL');
    expect(out.stdout).not.toContain('never');
    const backgroundPid = Number(out.stdout.trim());
    expect(backgroundPid).toBeGreaterThan(0);
    // SIGKILL is delivered asynchronously: give the kernel a moment to end the process.
    await vi.waitFor(() => expect(isRunning(backgroundPid)).toBe(false), { timeout: 2000, interval: 20 });
  });

  it('caps the output', async () => {
    // Prepare
    const tool = createShellTool({ enabled: true, maxOutputBytes: 100 });
    // Act
    const out = await tool.handler(
      tool.inputSchema.parse({ command: 'head -c 5000 /dev/zero | tr "\\0" a' }),
      ctx,
    );
    // Assess
    expect(out.truncated).toBe(true);
    expect(out.stdout).toBe('a'.repeat(100));
    expect(out.exitCode).toBe(0);
  });

  it('is disabled unless enabled, and says how to enable it', async () => {
    // Prepare
    const tool = createShellTool({ enabled: false });
    // Act
    const call = tool.handler(tool.inputSchema.parse({ command: ['true'] }), ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolDisabledError);
    await expect(call).rejects.toThrow(/shell: \{ enabled: true \}/);
  });

  it('reports a missing program as exit code 127', async () => {
    // Act
    const out = await run({ command: ['no-such-program-baton'] });
    // Assess
    expect(out.exitCode).toBe(127);
    expect(out.stderr).toMatch(/ENOENT/);
  });

  it('refuses input files outside the scratch directory', () => {
    // Act
    const parsed = shell.inputSchema.safeParse({
      command: 'true',
      files: [{ path: '../escape', content: 'x' }],
    });
    const absolute = shell.inputSchema.safeParse({
      command: 'true',
      files: [{ path: '/etc/x', content: 'x' }],
    });
    // Assess
    expect(parsed.success).toBe(false);
    expect(absolute.success).toBe(false);
  });
});
