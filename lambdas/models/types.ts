/**
 * The one small interface every model provider implements, and structured output on top of it.
 * Providers translate these shapes to their wire format and back; they never execute tools: a
 * reply with tool calls is returned to the agent harness, which runs the tools and continues.
 */
import * as z from 'zod';
import { StructuredOutputError } from './errors.js';

export interface ToolCall {
  /** The id the model gave the call; a tool message answers it with the same `toolCallId`. */
  id: string;
  name: string;
  /** The arguments as the model produced them (normally an object; unvalidated). */
  arguments: unknown;
}

export type ChatMessage =
  | { role: 'system' | 'user' | 'assistant'; content: string }
  | { role: 'assistant'; content: string; toolCalls: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the tool's input (an object schema). */
  inputSchema: Record<string, unknown>;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  tools?: ToolSpec[];
  maxOutputTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
}

export type StopReason = 'end' | 'tool_use' | 'max_tokens' | 'other';

export interface GenerateResult {
  text: string;
  toolCalls: ToolCall[];
  stopReason: StopReason;
  usage: Usage;
  /** The model that answered, qualified by provider (e.g. `bedrock:anthropic.claude-...`). */
  model: string;
}

export interface ModelProvider {
  /** Provider and model, e.g. `bedrock:anthropic.claude-3-5-haiku-20241022-v1:0`, `offline`. */
  readonly id: string;
  /** True when the same request always gets the same reply (no LLM behind it). */
  readonly deterministic: boolean;
  generate(req: GenerateRequest): Promise<GenerateResult>;
}

export const ZERO_USAGE: Usage = Object.freeze({ inputTokens: 0, outputTokens: 0, totalTokens: 0 });

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

/** True for an assistant message that carries tool calls. */
export function hasToolCalls(
  m: ChatMessage,
): m is { role: 'assistant'; content: string; toolCalls: ToolCall[] } {
  return m.role === 'assistant' && 'toolCalls' in m && Array.isArray(m.toolCalls);
}

/* ------------------------------------------------------------------ structured output */

/** The instruction generateObject adds (as a system message) to ask for JSON matching `jsonSchema`. */
export function jsonInstruction(jsonSchema: unknown): string {
  return [
    'Answer with a single JSON value that matches the JSON schema below.',
    'Write only the JSON: no explanation before or after it and no Markdown code fences.',
    'JSON schema:',
    JSON.stringify(jsonSchema),
  ].join('\n');
}

export type ParsedReply<T> = { ok: true; value: T } | { ok: false; issues: string[] };

/** Finds the JSON in a model reply (tolerating code fences or stray prose) and validates it. */
export function parseJsonReply<T>(text: string, schema: z.ZodType<T>): ParsedReply<T> {
  const candidates = jsonCandidates(text);
  if (candidates.length === 0) return { ok: false, issues: ['the reply is empty; it must be a JSON value'] };
  let parseError: string | undefined;
  for (const candidate of candidates) {
    let json: unknown;
    try {
      json = JSON.parse(candidate);
    } catch (err) {
      parseError ??= err instanceof Error ? err.message : String(err);
      continue;
    }
    const result = schema.safeParse(json);
    if (result.success) return { ok: true, value: result.data };
    return {
      ok: false,
      issues: result.error.issues.map(
        (i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`,
      ),
    };
  }
  return { ok: false, issues: [`the reply is not valid JSON (${parseError})`] };
}

function jsonCandidates(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const out = [trimmed];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed);
  if (fenced?.[1]) out.push(fenced[1].trim());
  const start = trimmed.search(/[[{]/);
  const end = Math.max(trimmed.lastIndexOf('}'), trimmed.lastIndexOf(']'));
  if (start >= 0 && end > start) out.push(trimmed.slice(start, end + 1));
  return [...new Set(out)];
}

/**
 * Structured output validated by a zod schema, for any provider: asks for JSON matching
 * `z.toJSONSchema(schema)`, parses and validates the reply; on failure asks once more, showing the
 * model its reply and the validation errors; throws StructuredOutputError after that.
 * `usage` covers both calls. Pass no tools unless the conversation already contains tool calls.
 */
export async function generateObject<T>(
  provider: ModelProvider,
  req: GenerateRequest,
  schema: z.ZodType<T>,
): Promise<{ value: T; usage: Usage }> {
  const jsonSchema = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  const instruction: ChatMessage = { role: 'system', content: jsonInstruction(jsonSchema) };
  const lastSystem = req.messages.findLastIndex((m) => m.role === 'system');
  const messages = [
    ...req.messages.slice(0, lastSystem + 1),
    instruction,
    ...req.messages.slice(lastSystem + 1),
  ];

  const first = await provider.generate({ ...req, messages });
  const firstParsed = parseReply(first, schema);
  if (firstParsed.ok) return { value: firstParsed.value, usage: first.usage };

  const retryMessages: ChatMessage[] = [
    ...messages,
    { role: 'assistant', content: first.text },
    {
      role: 'user',
      content: [
        'Your previous reply could not be used:',
        ...firstParsed.issues.map((i) => `- ${i}`),
        'Reply again with only the corrected JSON value matching the schema.',
      ].join('\n'),
    },
  ];
  const second = await provider.generate({ ...req, messages: retryMessages });
  const usage = addUsage(first.usage, second.usage);
  const secondParsed = parseReply(second, schema);
  if (secondParsed.ok) return { value: secondParsed.value, usage };

  throw new StructuredOutputError(
    `${provider.id} did not return JSON matching the schema after 2 attempts: ${secondParsed.issues.slice(0, 5).join('; ')}`,
    { provider: provider.id, issues: secondParsed.issues, text: second.text },
  );
}

function parseReply<T>(result: GenerateResult, schema: z.ZodType<T>): ParsedReply<T> {
  const parsed = parseJsonReply(result.text, schema);
  if (parsed.ok || result.stopReason !== 'max_tokens') return parsed;
  return {
    ok: false,
    issues: [...parsed.issues, 'the reply was cut off at the output token limit; be shorter'],
  };
}
