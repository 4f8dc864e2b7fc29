/**
 * The `shell` tool: run one command in a fresh scratch directory with a clean environment.
 *
 * - Disabled unless the config says `enabled: true`.
 * - argv arrays run without a shell; a string runs through `/bin/sh -c`.
 * - Environment: only PATH=/usr/bin:/bin and HOME=<scratch>; nothing of the parent (AWS_* etc.).
 * - The command runs in its own process group; on timeout (or abort) the whole group is killed,
 *   and leftovers (background jobs) are killed when the command exits.
 * - stdout and stderr are each capped at maxOutputBytes; the scratch dir is removed afterwards.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as z from 'zod';
import { defineTool, type ToolImplementation } from './define.js';
import { ToolAbortedError, ToolDisabledError, ToolInputError } from './errors.js';
import type { Tool } from './types.js';

const PositiveInt = z.number().int().positive();

/** The shell tool's settings (`tools.shell` in the Baton config). */
export const ShellToolConfig = z
  .object({
    /** The tool refuses every call unless this is true. */
    enabled: z.boolean().optional(),
    /** Time limit of one command (default 30 s); a call may ask for less, never more. */
    timeoutMs: PositiveInt.optional(),
    /** Bytes kept of stdout and of stderr each (default 64 KiB). */
    maxOutputBytes: PositiveInt.optional(),
    /** Parent of the scratch directories (default the OS temp dir, /tmp on Lambda); relative to the config file. */
    scratchRoot: z.string().min(1).optional(),
  })
  .strict();
export type ShellToolConfig = z.infer<typeof ShellToolConfig>;

export const SHELL_DEFAULTS = { timeoutMs: 30_000, maxOutputBytes: 64 * 1024 } as const;
const MAX_LISTED_FILES = 200;
const CLEAN_PATH = '/usr/bin:/bin';

const RelativePath = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a relative path inside the scratch directory (no "..")',
  });

export const ShellInput = z
  .object({
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .describe('An argv array (run directly) or a shell command string (run with /bin/sh -c)'),
    files: z
      .array(z.object({ path: RelativePath, content: z.string() }).strict())
      .max(100)
      .optional()
      .describe('Files written into the scratch directory before the command runs'),
    stdin: z.string().optional().describe("Text sent to the command's standard input"),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('A shorter time limit than the configured one'),
    readFiles: z
      .array(RelativePath)
      .max(20)
      .optional()
      .describe('Files produced by the command whose text contents to return'),
  })
  .strict();
export type ShellInput = z.infer<typeof ShellInput>;

export interface ShellOutput {
  /** The exit code, or null when the process was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** stdout or stderr was longer than maxOutputBytes and was cut. */
  truncated: boolean;
  /** Files in the scratch directory after the run, except input files left unchanged. */
  files?: { path: string; size: number }[];
  /** Contents of the files asked for in `readFiles` (missing ones are left out). */
  fileContents?: { path: string; content: string; truncated: boolean }[];
}

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.byteLength > room) {
      this.truncated = true;
      if (room > 0) this.chunks.push(chunk.subarray(0, room));
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
  }
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8');
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

function shellImplementation(config: ShellToolConfig): ToolImplementation<ShellInput, ShellOutput> {
  const maxTimeoutMs = config.timeoutMs ?? SHELL_DEFAULTS.timeoutMs;
  const maxOutputBytes = config.maxOutputBytes ?? SHELL_DEFAULTS.maxOutputBytes;

  return {
    description:
      'Run a command in an empty scratch directory (argv array, or a string run by /bin/sh -c). Optional input ' +
      'files are written there first. The environment is clean (PATH=/usr/bin:/bin, HOME=scratch dir), there is ' +
      `a ${maxTimeoutMs} ms time limit and output is capped at ${maxOutputBytes} bytes per stream. Returns exit ` +
      'code, stdout, stderr and the files produced.',
    async handler(input, ctx) {
      if (!config.enabled) {
        throw new ToolDisabledError(
          'shell',
          'Enable it in the tool config with `shell: { enabled: true }` and add "shell" to the agent allow-list.',
        );
      }
      if (ctx.signal?.aborted) throw new ToolAbortedError('shell', { cause: ctx.signal.reason });
      const timeoutMs = Math.min(input.timeoutMs ?? maxTimeoutMs, maxTimeoutMs);
      const scratch = await mkdtemp(path.join(config.scratchRoot ?? tmpdir(), 'baton-shell-'));
      try {
        const inputs = new Map<string, string>();
        for (const file of input.files ?? []) {
          const target = inside(scratch, file.path);
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, file.content);
          inputs.set(path.relative(scratch, target), file.content);
        }
        const argv = typeof input.command === 'string' ? ['/bin/sh', '-c', input.command] : input.command;
        const run = await runProcess(argv, {
          cwd: scratch,
          stdin: input.stdin,
          timeoutMs,
          maxOutputBytes,
          signal: ctx.signal,
        });
        const files = await listFiles(scratch, inputs);
        const fileContents = input.readFiles
          ? await readProduced(scratch, input.readFiles, maxOutputBytes)
          : undefined;
        return { ...run, files, ...(fileContents ? { fileContents } : {}) };
      } finally {
        await rm(scratch, { recursive: true, force: true, maxRetries: 3 });
      }
    },
  };
}

/** The `shell` tool: one command in a fresh scratch directory (off unless `enabled: true`). */
export const shellTool = defineTool({
  name: 'shell',
  description: 'Run a command in an empty scratch directory with a clean environment and a time limit',
  config: ShellToolConfig,
  input: ShellInput,
  paths: (c, absolute) => (c.scratchRoot ? { ...c, scratchRoot: absolute(c.scratchRoot) } : c),
  factory: shellImplementation,
});

export function createShellTool(config: ShellToolConfig): Tool<ShellInput, ShellOutput> {
  return shellTool.create(config);
}

function inside(root: string, relative: string): string {
  const target = path.resolve(root, relative);
  if (target !== root && !target.startsWith(`${root}${path.sep}`)) {
    throw new ToolInputError('shell', [
      { path: 'files', message: `${relative} is outside the scratch directory` },
    ]);
  }
  return target;
}

interface RunOptions {
  cwd: string;
  stdin?: string;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
}

function runProcess(
  argv: string[],
  options: RunOptions,
): Promise<Omit<ShellOutput, 'files' | 'fileContents'>> {
  const [file = '', ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { PATH: CLEAN_PATH, HOME: options.cwd },
      detached: true, // own process group, so the whole tree can be killed
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout = new CappedBuffer(options.maxOutputBytes);
    const stderr = new CappedBuffer(options.maxOutputBytes);
    let timedOut = false;
    let aborted = false;

    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killGroup(child.pid);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.on('error', () => {
      // EPIPE when the command does not read its input: not an error of the call.
    });
    child.stdin.end(options.stdin ?? '');
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    child.on('error', (err) => {
      // The program could not be started at all (ENOENT, EACCES): report it like a shell would.
      if (child.pid === undefined) {
        finish(() =>
          resolve({
            exitCode: 127,
            signal: null,
            stdout: '',
            stderr: `${file}: ${err.message}\n`,
            timedOut: false,
            truncated: false,
          }),
        );
      }
    });
    child.on('exit', () => {
      // Background jobs of the command would keep the pipes open: end the group now.
      killGroup(child.pid);
    });
    child.on('close', (code, signal) => {
      finish(() => {
        if (aborted) return reject(new ToolAbortedError('shell', { cause: options.signal?.reason }));
        resolve({
          exitCode: code,
          signal,
          stdout: stdout.text(),
          stderr: stderr.text(),
          timedOut,
          truncated: stdout.truncated || stderr.truncated,
        });
      });
    });
  });
}

async function listFiles(
  root: string,
  inputs: Map<string, string>,
): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (out.length >= MAX_LISTED_FILES) return;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const rel = path.relative(root, full);
        const stat = await lstat(full);
        const original = inputs.get(rel);
        if (original !== undefined && stat.size === Buffer.byteLength(original)) {
          const now = await readFile(full, 'utf8');
          if (now === original) continue;
        }
        out.push({ path: rel, size: stat.size });
      }
    }
  }
  await walk(root);
  return out;
}

async function readProduced(
  root: string,
  wanted: string[],
  maxBytes: number,
): Promise<{ path: string; content: string; truncated: boolean }[]> {
  const out: { path: string; content: string; truncated: boolean }[] = [];
  const realRoot = await realpath(root);
  for (const rel of wanted) {
    const full = inside(root, rel);
    const stat = await lstat(full).catch(() => undefined);
    if (!stat?.isFile()) continue; // missing, a directory or a symlink (never followed)
    const real = await realpath(full);
    if (!real.startsWith(`${realRoot}${path.sep}`)) continue; // reached through a symlinked directory
    const bytes = await readFile(full);
    const truncated = bytes.byteLength > maxBytes;
    out.push({ path: rel, content: bytes.subarray(0, maxBytes).toString('utf8'), truncated });
  }
  return out;
}
