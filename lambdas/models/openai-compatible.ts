/**
 * Any OpenAI-compatible chat completions endpoint (vLLM, Ollama, LiteLLM, llama.cpp server, hosted
 * APIs) through the AI SDK: `generateText` with a `createOpenAICompatible` model. Tools are declared
 * without `execute`, so the SDK returns the model's tool calls instead of running them; generation
 * stops after one step. Retries of 429/5xx/network errors are the SDK's (`maxRetries`, exponential
 * backoff that honours `retry-after` / `retry-after-ms`).
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  APICallError,
  generateText,
  InvalidArgumentError,
  InvalidPromptError,
  jsonSchema,
  type ModelMessage,
  RetryError,
  stepCountIs,
  type ToolSet,
  tool,
} from 'ai';
import { ModelRequestError, ModelUnavailableError } from './errors.js';
import {
  type ChatMessage,
  type GenerateRequest,
  type GenerateResult,
  hasToolCalls,
  type ModelProvider,
  type StopReason,
  type ToolSpec,
} from './types.js';

export const DEFAULT_OPENAI_COMPATIBLE_MAX_RETRIES = 3;

export interface OpenAICompatibleProviderOptions {
  /** Base URL of the API, up to and without `/chat/completions` (e.g. `http://localhost:8000/v1`). */
  baseURL: string;
  /** Sent as `Authorization: Bearer <apiKey>`; leave out for servers without auth. */
  apiKey?: string;
  modelId: string;
  /** Name of the endpoint in provider ids and SDK metadata. Default `openai-compatible`. */
  name?: string;
  /** Retries after the first attempt (429, 5xx, network). Default 3. */
  maxRetries?: number;
  headers?: Record<string, string>;
  /** For tests or proxies: the fetch implementation. */
  fetch?: typeof globalThis.fetch;
}

export function createOpenAICompatibleProvider(options: OpenAICompatibleProviderOptions): ModelProvider {
  const name = options.name ?? 'openai-compatible';
  const id = `${name}:${options.modelId}`;
  const endpoint = createOpenAICompatible({
    name,
    baseURL: options.baseURL,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const model = endpoint.chatModel(options.modelId);
  const maxRetries = options.maxRetries ?? DEFAULT_OPENAI_COMPATIBLE_MAX_RETRIES;

  return {
    id,
    deterministic: false,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      const { system, messages } = toModelMessages(req.messages);
      let result: Awaited<ReturnType<typeof generateText>>;
      try {
        result = await generateText({
          model,
          ...(system ? { system } : {}),
          messages,
          ...(req.tools && req.tools.length > 0 ? { tools: toToolSet(req.tools) } : {}),
          ...(req.maxOutputTokens !== undefined ? { maxOutputTokens: req.maxOutputTokens } : {}),
          ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
          ...(req.signal ? { abortSignal: req.signal } : {}),
          maxRetries,
          stopWhen: stepCountIs(1),
        });
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason ?? err;
        throw toModelError(id, err, maxRetries);
      }
      const toolCalls = result.toolCalls.map((c) => ({
        id: c.toolCallId,
        name: c.toolName,
        arguments: c.input,
      }));
      let stopReason = STOP_REASONS[result.finishReason] ?? 'other';
      if (toolCalls.length > 0 && stopReason === 'end') stopReason = 'tool_use';
      const inputTokens = result.totalUsage.inputTokens ?? 0;
      const outputTokens = result.totalUsage.outputTokens ?? 0;
      return {
        text: result.text,
        toolCalls,
        stopReason,
        usage: {
          inputTokens,
          outputTokens,
          totalTokens: result.totalUsage.totalTokens ?? inputTokens + outputTokens,
        },
        model: `${name}:${result.response.modelId || options.modelId}`,
      };
    },
  };
}

const STOP_REASONS: Record<string, StopReason> = {
  stop: 'end',
  'tool-calls': 'tool_use',
  length: 'max_tokens',
};

/** System messages go to `system` (the SDK warns about them inside `messages`); the rest map 1:1. */
export function toModelMessages(chat: ChatMessage[]): { system?: string; messages: ModelMessage[] } {
  const system: string[] = [];
  const messages: ModelMessage[] = [];
  const toolNames = new Map<string, string>();
  for (const m of chat) {
    if (m.role === 'system') {
      system.push(m.content);
    } else if (m.role === 'tool') {
      messages.push({
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: m.toolCallId,
            toolName: m.name || toolNames.get(m.toolCallId) || '',
            output: { type: 'text', value: m.content },
          },
        ],
      });
    } else if (hasToolCalls(m)) {
      for (const c of m.toolCalls) toolNames.set(c.id, c.name);
      messages.push({
        role: 'assistant',
        content: [
          ...(m.content ? [{ type: 'text' as const, text: m.content }] : []),
          ...m.toolCalls.map((c) => ({
            type: 'tool-call' as const,
            toolCallId: c.id,
            toolName: c.name,
            input: c.arguments,
          })),
        ],
      });
    } else {
      messages.push({ role: m.role, content: m.content });
    }
  }
  return { ...(system.length > 0 ? { system: system.join('\n\n') } : {}), messages };
}

/** Tools without `execute`: the SDK hands their calls back instead of running them. */
function toToolSet(tools: ToolSpec[]): ToolSet {
  const set: ToolSet = {};
  for (const t of tools) {
    set[t.name] = tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema) });
  }
  return set;
}

function toModelError(provider: string, err: unknown, maxRetries: number): unknown {
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return err;
  let last = err;
  let attempts = 1;
  let exhausted = false;
  if (RetryError.isInstance(err)) {
    last = err.lastError;
    attempts = err.errors.length;
    exhausted = err.reason === 'maxRetriesExceeded';
  } else if (APICallError.isInstance(err) && err.isRetryable) {
    attempts = maxRetries + 1;
    exhausted = true;
  }
  const message = last instanceof Error ? last.message : String(last);
  if (APICallError.isInstance(last)) {
    const status = last.statusCode;
    const details = { provider, attempts, status, code: apiErrorCode(last), cause: err };
    if (!exhausted && !last.isRetryable && status !== undefined && status >= 400 && status < 500) {
      return new ModelRequestError(`${provider} rejected the request (HTTP ${status}): ${message}`, details);
    }
    return new ModelUnavailableError(
      `${provider} is unavailable after ${attempts} attempt(s)${status ? ` (HTTP ${status})` : ''}: ${message}`,
      details,
    );
  }
  if (InvalidPromptError.isInstance(last) || InvalidArgumentError.isInstance(last)) {
    return new ModelRequestError(`${provider}: invalid request: ${message}`, {
      provider,
      attempts,
      code: last.name,
      cause: err,
    });
  }
  const code = last instanceof Error ? last.name : undefined;
  return new ModelUnavailableError(`${provider} failed: ${message}`, {
    provider,
    attempts,
    code,
    cause: err,
  });
}

/** The `code` or `type` of an OpenAI-style error body, if the server sent one. */
function apiErrorCode(err: APICallError): string | undefined {
  const data = err.data as { error?: { code?: unknown; type?: unknown } } | undefined;
  const code = data?.error?.code ?? data?.error?.type;
  return typeof code === 'string' ? code : undefined;
}
