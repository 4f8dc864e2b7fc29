import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AgentFailedError, NonRetryableError } from '../../../lambdas/core/errors.js';
import { canonicalJson } from '../../../lambdas/core/ids.js';
import {
  ToolAbortedError,
  ToolExecutionError,
  ToolInputError,
  ToolNotAllowedError,
  ToolNotFoundError,
  ToolTimeoutError,
  toStepError,
} from '../../../lambdas/tools/errors.js';
import { createToolRuntime, digestArgs } from '../../../lambdas/tools/runtime.js';
import type { Tool, ToolCallRecord, ToolContext } from '../../../lambdas/tools/types.js';

const ctx: ToolContext = { taskId: 'task-1', stepId: 'step-a' };

const greet: Tool<{ name: string; times: number }, string> = {
  name: 'greet',
  description: 'Greets someone.',
  inputSchema: z.object({ name: z.string().min(1), times: z.number().int().min(1).default(1) }).strict(),
  async handler(input) {
    return Array(input.times).fill(`hello ${input.name}`).join(', ');
  },
};

const boom: Tool<Record<string, never>, never> = {
  name: 'boom',
  description: 'Always fails.',
  inputSchema: z.object({}).strict(),
  async handler() {
    throw new TypeError('kaput');
  },
};

/** Never settles unless aborted; records the abort reason and resolves when its signal fires. */
const abortReasons: unknown[] = [];
const hang: Tool<Record<string, never>, string> = {
  name: 'hang',
  description: 'Waits for its signal.',
  inputSchema: z.object({}),
  handler: (_input, c) =>
    new Promise((resolve) =>
      c.signal?.addEventListener(
        'abort',
        () => {
          abortReasons.push(c.signal?.reason);
          resolve('aborted');
        },
        { once: true },
      ),
    ),
};

const tools = [greet, boom, hang] as Tool[];

describe('tool runtime', () => {
  it('lists only allowed tools, with JSON schemas of their input', () => {
    // Prepare
    const runtime = createToolRuntime({ allow: ['greet'], tools });
    // Act
    const defs = runtime.list();
    // Assess
    expect(defs).toEqual([
      {
        name: 'greet',
        description: 'Greets someone.',
        inputSchema: {
          type: 'object',
          properties: {
            name: { type: 'string', minLength: 1 },
            times: expect.objectContaining({ default: 1 }),
          },
          required: ['name'],
          additionalProperties: false,
        },
      },
    ]);
    expect(runtime.has('greet')).toBe(true);
    expect(runtime.has('boom')).toBe(false);
  });

  it('validates, runs and audits an allowed call', async () => {
    // Prepare
    const records: ToolCallRecord[] = [];
    const runtime = createToolRuntime({ allow: ['greet'], tools, onCall: (r) => records.push(r) });
    const args = { times: 2, name: 'Ada' };
    // Act
    const out = await runtime.call('greet', args, ctx);
    // Assess
    expect(out).toBe('hello Ada, hello Ada');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tool: 'greet', outcome: 'ok', taskId: 'task-1', stepId: 'step-a' });
    expect(records[0]?.argsDigest).toBe(
      createHash('sha256').update('{"name":"Ada","times":2}').digest('hex'),
    );
    expect(records[0]?.durationMs).toBeGreaterThanOrEqual(0);
    expect(records[0]?.error).toBeUndefined();
  });

  it('refuses a tool that is not on the allow-list, and audits the refusal', async () => {
    // Prepare
    const records: ToolCallRecord[] = [];
    const runtime = createToolRuntime({ allow: ['greet'], tools, onCall: (r) => records.push(r) });
    // Act
    const call = runtime.call('boom', {}, ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolNotAllowedError);
    await expect(call).rejects.toThrow('Tool "boom" is not allowed for this agent (allowed: greet)');
    expect(records.map((r) => [r.tool, r.outcome, r.error?.name])).toEqual([
      ['boom', 'error', 'ToolNotAllowedError'],
    ]);
  });

  it('tells allowed-but-unknown tools apart', async () => {
    // Prepare
    const runtime = createToolRuntime({ allow: ['*'], tools });
    // Act
    const call = runtime.call('nope', {}, ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolNotFoundError);
  });

  it('rejects bad arguments with a message naming the tool and the field', async () => {
    // Prepare
    const records: ToolCallRecord[] = [];
    const runtime = createToolRuntime({ allow: ['greet'], tools, onCall: (r) => records.push(r) });
    // Act
    const err = await runtime.call('greet', { name: 42 }, ctx).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(ToolInputError);
    expect((err as ToolInputError).message).toMatch(
      /^Invalid input for tool "greet": name: .*expected string/,
    );
    expect((err as ToolInputError).issues).toEqual([{ path: 'name', message: expect.any(String) }]);
    expect((err as ToolInputError).cause).toBeInstanceOf(z.ZodError);
    expect(records[0]).toMatchObject({ outcome: 'error', error: { name: 'ToolInputError' } });
    expect(records[0]?.argsDigest).toBe(digestArgs({ name: 42 }));
  });

  it('wraps unexpected handler failures so they name the tool and keep the cause', async () => {
    // Prepare
    const records: ToolCallRecord[] = [];
    const runtime = createToolRuntime({ allow: ['boom'], tools, onCall: (r) => records.push(r) });
    // Act
    const err = await runtime.call('boom', {}, ctx).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(ToolExecutionError);
    expect((err as ToolExecutionError).message).toBe('Tool "boom" failed: TypeError: kaput');
    expect((err as ToolExecutionError).cause).toBeInstanceOf(TypeError);
    expect(records[0]?.error).toEqual({
      name: 'ToolExecutionError',
      message: 'Tool "boom" failed: TypeError: kaput',
    });
  });

  it('times out a call and aborts the tool', async () => {
    // Prepare
    abortReasons.length = 0;
    const runtime = createToolRuntime({ allow: ['hang'], tools, timeoutMs: 200 });
    // Act
    const call = runtime.call('hang', {}, ctx);
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolTimeoutError);
    expect(abortReasons).toHaveLength(1);
    expect(abortReasons[0]).toBeInstanceOf(ToolTimeoutError);
  });

  it("stops when the caller's signal aborts", async () => {
    // Prepare
    const controller = new AbortController();
    const runtime = createToolRuntime({ allow: ['hang'], tools });
    // Act
    const call = runtime.call('hang', {}, { ...ctx, signal: controller.signal });
    controller.abort(new Error('task cancelled'));
    // Assess
    await expect(call).rejects.toBeInstanceOf(ToolAbortedError);
  });

  it('allows every tool of an MCP server with a prefix pattern', () => {
    // Prepare
    const mcpLike = (name: string): Tool => ({ ...greet, name }) as Tool;
    const runtime = createToolRuntime({
      allow: ['docs.*'],
      tools: [mcpLike('docs.find'), mcpLike('other.find')],
    });
    // Act / Assess
    expect(runtime.list().map((d) => d.name)).toEqual(['docs.find']);
  });

  it('refuses duplicate tool names', () => {
    // Act / Assess
    expect(() => createToolRuntime({ allow: [], tools: [greet, greet] as Tool[] })).toThrow(
      /Two tools are named "greet"/,
    );
  });
});

describe('argument digests and step errors', () => {
  it('digests canonical JSON: key order does not matter, values do', () => {
    // Assess
    expect(canonicalJson({ b: [{ y: 1, x: 2 }], a: undefined, c: null })).toBe(
      '{"b":[{"x":2,"y":1}],"c":null}',
    );
    expect(digestArgs({ a: 1, b: 2 })).toBe(digestArgs({ b: 2, a: 1 }));
    expect(digestArgs({ a: 1 })).not.toBe(digestArgs({ a: 2 }));
  });

  it('maps tool errors to the core errors Step Functions understands', () => {
    // Act
    const refused = toStepError(new ToolNotAllowedError('shell', []));
    const slow = toStepError(new ToolTimeoutError('http', 10));
    // Assess
    expect(refused).toBeInstanceOf(NonRetryableError);
    expect(refused.name).toBe('Baton.NonRetryable');
    expect(refused.cause).toBeInstanceOf(ToolNotAllowedError);
    expect(slow).toBeInstanceOf(AgentFailedError);
  });
});
