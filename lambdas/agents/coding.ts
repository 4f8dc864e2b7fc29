/**
 * Coding agent: writes files into the shell sandbox, runs a command (the code, its tests) and
 * reports the result (`report.md`: command, files, exit code, output).
 *
 * The sandbox is the `shell` tool, off unless the agent's config enables it
 * (`agents.coding.tools.shell.enabled: true`); without it the step fails at once, non-retryably,
 * saying so. Offline, the agent runs the `files` and `command` it is given (step input, else
 * `inputs.files` / `inputs.command`): with no model it cannot write code from a description.
 * With a model: a bounded tool-use loop in which the model writes and runs the code.
 * A command that does not exit with `expectExitCode` (default 0) fails the step, non-retryably,
 * unless `failOnError: false`.
 */
import * as z from 'zod';
import { AgentFailedError, NonRetryableError } from '../core/errors.js';
import type { AgentContext, AgentInput } from '../core/schemas.js';
import { ToolDisabledError, ToolNotAllowedError } from '../tools/errors.js';
import type { ShellOutput } from '../tools/shell.js';
import { BaseInput, DEFAULT_MAX_TURNS, liveModel, tail, toolErrorOf } from './common.js';
import { defineAgent } from './define.js';
import { runToolLoop } from './loop.js';

export const CodeFile = z
  .object({ path: z.string().min(1).max(255), content: z.string().max(1_000_000) })
  .strict();
export const CodingInput = BaseInput.extend({
  /** What to build (the model writes the code; offline, files + command are needed). */
  task: z.string().max(4000).optional(),
  /** Files written into the sandbox (default: `inputs.files`). */
  files: z.array(CodeFile).max(100).optional(),
  /** The command that runs the code or its tests (default: `inputs.command`). */
  command: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The exit code that means success (default 0). */
  expectExitCode: z.number().int().min(0).max(255).optional(),
  /** Fail the step when the command does not succeed (default true). */
  failOnError: z.boolean().optional(),
  timeoutMs: z.number().int().positive().optional(),
  /** Produced files whose contents to report. */
  readFiles: z.array(z.string().min(1).max(255)).max(20).optional(),
}).strict();
export type CodingInput = z.infer<typeof CodingInput>;

export const CodingOutput = z.object({
  mode: z.enum(['offline', 'model']),
  command: z.union([z.string(), z.array(z.string())]),
  exitCode: z.number().int().nullable(),
  expectedExitCode: z.number().int(),
  passed: z.boolean(),
  timedOut: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  files: z.array(z.object({ path: z.string(), size: z.number().int() })),
  runs: z.number().int(),
});
export type CodingOutput = z.infer<typeof CodingOutput>;

export const CODING_SYSTEM_PROMPT = [
  'You are the coding agent of Baton, a multi-agent platform. You write code and run it with the "shell" tool:',
  'each call starts in an empty scratch directory, so pass every file the command needs in "files" and run the',
  'code or its tests in the same call. The environment is minimal (PATH=/usr/bin:/bin, no network). Fix and re-run',
  'until the tests pass or you run out of turns. Finish with a short report: what you built, the command, the result.',
].join(' ');

const SHELL_HOW_TO =
  'the shell sandbox is not enabled for this agent: set "tools": { "shell": { "enabled": true } } for it in the Baton config (BATON_CONFIG)';

const InputFiles = z.array(CodeFile).max(100);
const InputCommand = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

function fromInputs(input: AgentInput, p: CodingInput) {
  let files = p.files;
  if (!files && input.inputs.files !== undefined) {
    const parsed = InputFiles.safeParse(input.inputs.files);
    if (!parsed.success)
      throw new NonRetryableError('coding: inputs.files must be a list of { path, content }');
    files = parsed.data;
  }
  let command = p.command;
  if (!command && input.inputs.command !== undefined) {
    const parsed = InputCommand.safeParse(input.inputs.command);
    if (!parsed.success)
      throw new NonRetryableError('coding: inputs.command must be a string or a list of strings');
    command = parsed.data;
  }
  return { files: files ?? [], command };
}

function shellProblem(err: unknown): never {
  const toolErr = toolErrorOf(err);
  if (toolErr instanceof ToolDisabledError)
    throw new NonRetryableError(`coding: ${SHELL_HOW_TO}`, { cause: toolErr });
  if (toolErr instanceof ToolNotAllowedError) {
    throw new NonRetryableError('coding: the "shell" tool is not on this agent\'s allow-list (tools.allow)', {
      cause: toolErr,
    });
  }
  throw err;
}

function commandText(command: string | string[]): string {
  return typeof command === 'string'
    ? command
    : command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function render(o: {
  command: string | string[];
  files: { path: string; size: number }[];
  run: ShellOutput;
  expected: number;
  passed: boolean;
  report?: string;
}): string {
  const fence = (s: string) => ['```', s.replace(/```/g, "'''").trimEnd() || '(empty)', '```'];
  return [
    '# Coding report',
    '',
    ...(o.report ? ['## Summary', '', o.report.trim(), ''] : []),
    '## Command',
    '',
    ...fence(commandText(o.command)),
    '',
    '## Files',
    '',
    ...(o.files.length ? o.files.map((f) => `- ${f.path} (${f.size} bytes)`) : ['- (none)']),
    '',
    '## Result',
    '',
    `${o.passed ? 'PASSED' : 'FAILED'}: exit code ${o.run.exitCode ?? `none (signal ${o.run.signal})`}, expected ${o.expected}` +
      `${o.run.timedOut ? '; the command timed out' : ''}${o.run.truncated ? '; output was cut' : ''}.`,
    '',
    '## stdout',
    '',
    ...fence(tail(o.run.stdout, 8000)),
    '',
    '## stderr',
    '',
    ...fence(tail(o.run.stderr, 8000)),
    '',
  ].join('\n');
}

function finish(
  mode: CodingOutput['mode'],
  p: CodingInput,
  command: string | string[],
  run: ShellOutput,
  inputFiles: { path: string; content: string }[],
  runs: number,
  report?: string,
) {
  const expected = p.expectExitCode ?? 0;
  const passed = !run.timedOut && run.exitCode === expected;
  const files = [
    ...inputFiles.map((f) => ({ path: f.path, size: Buffer.byteLength(f.content) })),
    ...(run.files ?? []).filter((f) => !inputFiles.some((i) => i.path === f.path)),
  ];
  if (!passed && p.failOnError !== false) {
    const why = run.timedOut
      ? 'timed out'
      : `exited with ${run.exitCode ?? `signal ${run.signal}`} (expected ${expected})`;
    throw new NonRetryableError(
      `coding: \`${commandText(command)}\` ${why}: ${tail(run.stderr || run.stdout, 800).trim() || 'no output'}`,
    );
  }
  const output: CodingOutput = {
    mode,
    command,
    exitCode: run.exitCode,
    expectedExitCode: expected,
    passed,
    timedOut: run.timedOut,
    stdout: tail(run.stdout, 2000),
    stderr: tail(run.stderr, 2000),
    files,
    runs,
  };
  return {
    summary:
      `${passed ? 'Passed' : 'Failed'}: \`${commandText(command)}\` exited ${run.exitCode ?? 'by signal'} (expected ${expected}) with ${files.length} file(s)`.slice(
        0,
        4000,
      ),
    output,
    artifacts: [
      {
        name: 'report.md',
        contentType: 'text/markdown',
        body: render({ command, files, run, expected, passed, ...(report ? { report } : {}) }),
      },
    ],
  };
}

async function withModel(
  ctx: AgentContext,
  input: AgentInput,
  p: CodingInput,
  files: { path: string; content: string }[],
  command?: string | string[],
) {
  const model = liveModel(ctx);
  if (!model) throw new AgentFailedError('unreachable: no model');
  const prompt = [
    `Task: ${p.task ?? input.goal}`,
    ...(files.length
      ? ['Starting files:', ...files.map((f) => `--- ${f.path}\n${f.content.slice(0, 8000)}`)]
      : []),
    ...(command ? [`Run it with: ${commandText(command)}`] : []),
    `Success means exit code ${p.expectExitCode ?? 0}.`,
  ].join('\n');
  let loop: Awaited<ReturnType<typeof runToolLoop>>;
  try {
    loop = await runToolLoop({
      model,
      tools: ctx.tools,
      only: ['shell'],
      system: CODING_SYSTEM_PROMPT,
      prompt,
      maxTurns: p.maxTurns ?? DEFAULT_MAX_TURNS,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (err) {
    shellProblem(err);
  }
  const disabled = loop.calls.find((c) => c.name === 'shell' && !c.ok && /disabled/i.test(c.error ?? ''));
  if (disabled) throw new NonRetryableError(`coding: ${SHELL_HOW_TO}`);
  const last = loop.calls.filter((c) => c.name === 'shell' && c.ok).at(-1);
  if (!last) throw new AgentFailedError(`coding: ${model.id} ran no command in ${loop.turns} turns`);
  const args = last.args as { command: string | string[]; files?: { path: string; content: string }[] };
  return finish(
    'model',
    p,
    args.command,
    last.result as ShellOutput,
    args.files ?? [],
    loop.calls.filter((c) => c.name === 'shell').length,
    loop.text,
  );
}

export const coding = defineAgent({
  name: 'coding',
  description: 'Writes files and runs a command in the shell sandbox (when enabled) and reports the result',
  input: CodingInput,
  output: CodingOutput,
  defaultTools: { shell: { enabled: false } },
  systemPrompt: CODING_SYSTEM_PROMPT,
  handler: async (input, ctx, p) => {
    const { files, command } = fromInputs(input, p);
    if (!ctx.tools?.has('shell')) {
      throw new NonRetryableError(
        'coding needs the "shell" tool, which is not configured or not allowed for this agent',
      );
    }
    if (liveModel(ctx)) return withModel(ctx, input, p, files, command);
    if (!command) {
      throw new NonRetryableError(
        'coding input is not valid: input.command is required when no model is configured (the offline coding agent runs the files and command it is given; it does not write code from a description)',
      );
    }
    let run: ShellOutput;
    try {
      run = (await ctx.tools.call('shell', {
        command,
        files,
        ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
        ...(p.readFiles ? { readFiles: p.readFiles } : {}),
      })) as ShellOutput;
    } catch (err) {
      shellProblem(err);
    }
    return finish('offline', p, command, run, files, 1);
  },
});
