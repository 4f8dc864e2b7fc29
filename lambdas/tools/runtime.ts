/**
 * The tool runtime an agent works through: it knows the configured tools, exposes only those on
 * the agent's allow-list, validates arguments with each tool's zod schema, enforces a time limit,
 * and reports every call (refused, failed or successful) as a ToolCallRecord.
 */
import * as z from 'zod';
import { describeError } from '../core/errors.js';
import { canonicalJson, sha256Hex } from '../core/ids.js';
import {
  ToolAbortedError,
  ToolError,
  ToolExecutionError,
  ToolInputError,
  ToolNotAllowedError,
  ToolNotFoundError,
  ToolTimeoutError,
} from './errors.js';
import type { JsonSchema, Tool, ToolCallRecord, ToolContext, ToolDefinition } from './types.js';

export const DEFAULT_TOOL_CALL_TIMEOUT_MS = 120_000;

export interface ToolRuntimeConfig {
  /**
   * The agent's allow-list: tool names, or patterns ending in `*` (`"docs.*"` allows every tool of
   * the MCP server `docs`; `"*"` allows all). A tool not matched is invisible and refused.
   */
  allow: readonly string[];
  tools: readonly Tool[];
  /** Receives one record per call, including refused and invalid ones. Errors it throws propagate. */
  onCall?: (record: ToolCallRecord) => void;
  /** Upper bound of any single call, on top of the tools' own limits. Default 120 s. */
  timeoutMs?: number;
}

export interface ToolRuntime {
  /** Definitions of the allowed tools, for the model (JSON schema of the tool input). */
  list(): ToolDefinition[];
  /** Whether `name` exists and is allowed. */
  has(name: string): boolean;
  /** Validate, authorize, run and audit one call. Throws a ToolError subclass on refusal or failure. */
  call(name: string, rawArgs: unknown, ctx: ToolContext): Promise<unknown>;
}

/** sha256 (hex) of the canonical JSON of the arguments. */
export function digestArgs(args: unknown): string {
  return sha256Hex(canonicalJson(args));
}

/** The JSON schema of a tool's input, as a model should see it. */
export function toolJsonSchema(tool: Tool): JsonSchema {
  if (tool.jsonSchema) return tool.jsonSchema;
  const schema = z.toJSONSchema(tool.inputSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const { $schema: _drop, ...rest } = schema;
  return rest;
}

function matchesAllow(name: string, allow: readonly string[]): boolean {
  return allow.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name,
  );
}

export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '['),
    message: issue.message,
  }));
}

export function createToolRuntime(config: ToolRuntimeConfig): ToolRuntime {
  const byName = new Map<string, Tool>();
  for (const tool of config.tools) {
    if (byName.has(tool.name))
      throw new Error(`Two tools are named "${tool.name}"; tool names must be unique.`);
    byName.set(tool.name, tool);
  }
  const allow = [...config.allow];
  const timeoutMs = config.timeoutMs ?? DEFAULT_TOOL_CALL_TIMEOUT_MS;
  const allowedNames = () => [...byName.keys()].filter((n) => matchesAllow(n, allow));

  async function invoke(name: string, rawArgs: unknown, ctx: ToolContext): Promise<unknown> {
    if (!matchesAllow(name, allow)) throw new ToolNotAllowedError(name, allow);
    const tool = byName.get(name);
    if (!tool) throw new ToolNotFoundError(name, allowedNames());
    const parsed = tool.inputSchema.safeParse(rawArgs ?? {});
    if (!parsed.success) throw new ToolInputError(name, issuesOf(parsed.error), { cause: parsed.error });
    if (ctx.signal?.aborted) throw new ToolAbortedError(name, { cause: ctx.signal.reason });

    const controller = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, controller.signal]) : controller.signal;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // Set when the limit fires: the handler may still settle (e.g. resolve on abort) in the same tick.
    let stopped: ToolError | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stopped = new ToolTimeoutError(name, timeoutMs);
        reject(stopped);
        controller.abort(stopped);
      }, timeoutMs);
      onAbort = () => {
        stopped = new ToolAbortedError(name, { cause: ctx.signal?.reason });
        reject(stopped);
      };
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([tool.handler(parsed.data, { ...ctx, signal }), limit]);
      if (stopped) throw stopped;
      return result;
    } catch (err) {
      if (stopped) throw stopped;
      if (err instanceof ToolError) throw err;
      // Tools throw ToolErrors for expected failures; anything else is wrapped so it names the tool.
      const { name: errName, message } = describeError(err);
      throw new ToolExecutionError(`Tool "${name}" failed: ${errName}: ${message}`, {
        cause: err,
        tool: name,
        retryable: true,
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) ctx.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  return {
    list() {
      return allowedNames().map((name) => {
        const tool = byName.get(name) as Tool;
        return { name, description: tool.description, inputSchema: toolJsonSchema(tool) };
      });
    },
    has(name) {
      return byName.has(name) && matchesAllow(name, allow);
    },
    async call(name, rawArgs, ctx) {
      const startedAt = new Date();
      const start = performance.now();
      const record = (outcome: 'ok' | 'error', err?: unknown): ToolCallRecord => ({
        tool: name,
        argsDigest: digestArgs(rawArgs),
        durationMs: Math.round((performance.now() - start) * 1000) / 1000,
        outcome,
        ...(outcome === 'error' ? { error: describeError(err) } : {}),
        taskId: ctx.taskId,
        stepId: ctx.stepId,
        startedAt: startedAt.toISOString(),
      });
      let result: unknown;
      try {
        result = await invoke(name, rawArgs, ctx);
      } catch (err) {
        config.onCall?.(record('error', err));
        throw err;
      }
      config.onCall?.(record('ok'));
      return result;
    },
  };
}
