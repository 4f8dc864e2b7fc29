/**
 * The bounded tool-use loop of the LLM path: the model answers or asks for tools; the tools run
 * through the agent's ToolRuntime (allow-list, validation, audit) and their results go back to
 * the model; after `maxTurns` tool turns the model must answer without tools. A tool failure is
 * shown to the model (it may try another way); a model error or an exceeded budget ends the loop.
 */
import type { AgentContext } from '../core/schemas.js';
import type { ChatMessage, ModelProvider, ToolSpec } from '../models/types.js';
import { toolErrorOf } from './common.js';

export interface ToolLoopOptions {
  model: ModelProvider;
  tools?: AgentContext['tools'];
  system: string;
  prompt: string;
  maxTurns: number;
  /** Only these tools are offered (default: every allowed tool). */
  only?: string[];
  maxOutputTokens?: number;
  signal?: AbortSignal;
}

export interface ToolLoopCall {
  name: string;
  args: unknown;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface ToolLoopResult {
  text: string;
  /** Model turns taken, the final answer included. */
  turns: number;
  calls: ToolLoopCall[];
}

/** Tool results are cut to this many characters before they go back to the model. */
export const MAX_TOOL_RESULT_CHARS = 12_000;

function forModel(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length <= MAX_TOOL_RESULT_CHARS
    ? text
    : `${text.slice(0, MAX_TOOL_RESULT_CHARS)}… [cut: ${text.length} characters in all]`;
}

export async function runToolLoop(o: ToolLoopOptions): Promise<ToolLoopResult> {
  const defs: ToolSpec[] = (o.tools?.list() ?? [])
    .filter((t) => !o.only || o.only.includes(t.name))
    .map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
  const messages: ChatMessage[] = [
    { role: 'system', content: o.system },
    { role: 'user', content: o.prompt },
  ];
  const calls: ToolLoopCall[] = [];
  const common = {
    ...(o.maxOutputTokens ? { maxOutputTokens: o.maxOutputTokens } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  for (let turn = 1; turn <= o.maxTurns; turn++) {
    const reply = await o.model.generate({ messages, ...(defs.length ? { tools: defs } : {}), ...common });
    if (reply.toolCalls.length === 0 || defs.length === 0) return { text: reply.text, turns: turn, calls };
    messages.push({ role: 'assistant', content: reply.text, toolCalls: reply.toolCalls });
    for (const call of reply.toolCalls) {
      let content: string;
      try {
        if (!o.tools) throw new Error('no tools are available');
        const result = await o.tools.call(call.name, call.arguments);
        calls.push({ name: call.name, args: call.arguments, ok: true, result });
        content = forModel(result);
      } catch (err) {
        const toolErr = toolErrorOf(err);
        if (!toolErr) throw err;
        calls.push({ name: call.name, args: call.arguments, ok: false, error: toolErr.message });
        content = `Error (${toolErr.name}): ${toolErr.message}`;
      }
      messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content });
    }
  }
  messages.push({
    role: 'user',
    content: `You have used all ${o.maxTurns} tool turns. Answer now with what you have, without calling tools.`,
  });
  // Tools are still declared (Bedrock wants them while the conversation holds tool blocks); calls are ignored.
  const final = await o.model.generate({ messages, ...(defs.length ? { tools: defs } : {}), ...common });
  return { text: final.text, turns: o.maxTurns + 1, calls };
}
