/**
 * Amazon Bedrock through the Converse API (`ConverseCommand`), one request per generate call.
 *
 * Retries: this module retries throttling and transient failures itself (capped exponential
 * backoff with full jitter, see retry.ts) and creates its client with the SDK's retries off
 * (`maxAttempts: 1`), so attempts are not multiplied. The SDK's standard/adaptive strategy would
 * cover the same errors, but it lives in the client's middleware stack, which aws-sdk-client-mock
 * replaces (it stubs `send`): retries done there could not be tested, and one loop here also honours
 * the request's AbortSignal while waiting and reports how many attempts were made.
 */
import {
  BedrockRuntimeClient,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type Message,
  type SystemContentBlock,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { ModelRequestError, ModelUnavailableError } from './errors.js';
import { RetriesExhausted, type RetryPolicy, withRetry } from './retry.js';
import {
  type ChatMessage,
  type GenerateRequest,
  type GenerateResult,
  hasToolCalls,
  type ModelProvider,
  type StopReason,
  type ToolCall,
  type ToolSpec,
} from './types.js';

/** Attempts in total per generate call, and the backoff between them. */
export const DEFAULT_BEDROCK_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 20_000 };

export interface BedrockProviderOptions {
  modelId: string;
  /** Region of the client created by this module; default: the SDK's (AWS_REGION). */
  region?: string;
  /**
   * A client to use instead of the module's own. Create it with `createBedrockClient` (or with
   * `maxAttempts: 1`) so the SDK does not retry on top of this provider.
   */
  client?: BedrockRuntimeClient;
  retry?: Partial<RetryPolicy>;
  /** For tests: how to wait between attempts and where jitter comes from. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Called before each wait between attempts, e.g. to log throttling. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** A Bedrock Runtime client with the SDK's own retries off (this module retries). */
export function createBedrockClient(region?: string): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ ...(region ? { region } : {}), maxAttempts: 1 });
}

/** Clients created once per container (per region), reused by every provider and call. */
const clients = new Map<string, BedrockRuntimeClient>();
function sharedClient(region?: string): BedrockRuntimeClient {
  const key = region ?? '';
  let client = clients.get(key);
  if (!client) {
    client = createBedrockClient(region);
    clients.set(key, client);
  }
  return client;
}

export function createBedrockProvider(options: BedrockProviderOptions): ModelProvider {
  const { modelId } = options;
  const id = `bedrock:${modelId}`;
  const policy: RetryPolicy = { ...DEFAULT_BEDROCK_RETRY, ...options.retry };
  return {
    id,
    deterministic: false,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      const client = options.client ?? sharedClient(options.region);
      const input = toConverseInput(modelId, req);
      let output: ConverseCommandOutput;
      try {
        output = await withRetry(
          () => client.send(new ConverseCommand(input), req.signal ? { abortSignal: req.signal } : {}),
          {
            policy,
            isRetryable: isRetryableBedrockError,
            signal: req.signal,
            sleep: options.sleep,
            random: options.random,
            onRetry: options.onRetry,
          },
        );
      } catch (err) {
        throw toModelError(id, err);
      }
      return fromConverseOutput(modelId, output);
    },
  };
}

/* ------------------------------------------------------------------ request mapping */

/** Maps a request to Converse: system messages to `system`, tool calls and results to content blocks. */
export function toConverseInput(modelId: string, req: GenerateRequest): ConverseCommandInput {
  const { system, messages } = toConverseMessages(req.messages);
  const input: ConverseCommandInput = { modelId, messages };
  if (system.length > 0) input.system = system;
  if (req.maxOutputTokens !== undefined || req.temperature !== undefined) {
    input.inferenceConfig = {
      ...(req.maxOutputTokens !== undefined ? { maxTokens: req.maxOutputTokens } : {}),
      ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    };
  }
  if (req.tools && req.tools.length > 0) input.toolConfig = { tools: req.tools.map(toConverseTool) };
  return input;
}

function toConverseTool(tool: ToolSpec): Tool {
  return {
    toolSpec: {
      name: tool.name,
      description: tool.description,
      inputSchema: { json: tool.inputSchema as NonNullable<ContentBlock.ToolUseMember['toolUse']['input']> },
    },
  };
}

/**
 * Converse wants alternating user/assistant turns with non-empty text blocks, tool results inside a
 * user turn, and the system prompt apart: consecutive messages of one role are merged, tool
 * messages become `toolResult` blocks of a user turn, empty text is dropped.
 */
function toConverseMessages(chat: ChatMessage[]): { system: SystemContentBlock[]; messages: Message[] } {
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlock[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role && last.content) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  const text = (t: string): ContentBlock[] => (t.length > 0 ? [{ text: t }] : []);
  for (const m of chat) {
    if (m.role === 'system') {
      if (m.content.length > 0) system.push({ text: m.content });
    } else if (m.role === 'tool') {
      // Converse rejects blank text blocks; an empty tool result still has to answer its toolUse.
      const content = m.content.length > 0 ? m.content : '(empty result)';
      push('user', [{ toolResult: { toolUseId: m.toolCallId, content: [{ text: content }] } }]);
    } else if (hasToolCalls(m)) {
      push('assistant', [
        ...text(m.content),
        ...m.toolCalls.map(
          (c): ContentBlock => ({
            toolUse: { toolUseId: c.id, name: c.name, input: toDocument(c.arguments) },
          }),
        ),
      ]);
    } else {
      push(m.role, text(m.content));
    }
  }
  return { system, messages };
}

type Document = NonNullable<ContentBlock.ToolUseMember['toolUse']['input']>;

/** Converse needs a JSON object as tool input; arguments that are not one are sent as `{}`. */
function toDocument(args: unknown): Document {
  let value = args;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      value = undefined;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Document) : {};
}

/* ------------------------------------------------------------------ response mapping */

const STOP_REASONS: Record<string, StopReason> = {
  end_turn: 'end',
  stop_sequence: 'end',
  tool_use: 'tool_use',
  max_tokens: 'max_tokens',
};

export function fromConverseOutput(modelId: string, output: ConverseCommandOutput): GenerateResult {
  const blocks = output.output?.message?.content ?? [];
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of blocks) {
    if (typeof block.text === 'string') texts.push(block.text);
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId ?? '',
        name: block.toolUse.name ?? '',
        arguments: block.toolUse.input ?? {},
      });
    }
  }
  let stopReason: StopReason = STOP_REASONS[output.stopReason ?? ''] ?? 'other';
  if (toolCalls.length > 0 && stopReason === 'end') stopReason = 'tool_use';
  const inputTokens = output.usage?.inputTokens ?? 0;
  const outputTokens = output.usage?.outputTokens ?? 0;
  return {
    text: texts.join(''),
    toolCalls,
    stopReason,
    usage: {
      inputTokens,
      outputTokens,
      totalTokens: output.usage?.totalTokens ?? inputTokens + outputTokens,
    },
    model: `bedrock:${modelId}`,
  };
}

/* ------------------------------------------------------------------ errors */

/** Worth retrying within the call: throttling, a model warming up, transient server or network trouble. */
const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailableException',
  'ModelNotReadyException',
  'InternalServerException',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND']);
/** Client-fault errors that are still worth a later attempt of the step (not of the call). */
const UNAVAILABLE_CLIENT_ERRORS = new Set([
  'ModelTimeoutException',
  'ModelErrorException',
  'ModelStreamErrorException',
]);

interface SdkErrorLike {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function sdkError(err: unknown): SdkErrorLike {
  return err !== null && typeof err === 'object' ? (err as SdkErrorLike) : {};
}

export function isRetryableBedrockError(err: unknown): boolean {
  const e = sdkError(err);
  if (e.name === 'AbortError') return false;
  if (e.name && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && RETRYABLE_STATUS.has(status);
}

function toModelError(provider: string, err: unknown): unknown {
  if (!(err instanceof RetriesExhausted)) return err; // abort: keep the abort reason as it is
  const cause = err.cause;
  const e = sdkError(cause);
  const status = e.$metadata?.httpStatusCode;
  const code = e.name ?? e.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  const details = { provider, attempts: err.attempts, code, status, cause };
  const clientFault =
    e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500 && status !== 408);
  if (!err.retryable && clientFault && !(code && UNAVAILABLE_CLIENT_ERRORS.has(code))) {
    return new ModelRequestError(`${provider} rejected the request (${code}): ${message}`, details);
  }
  const tries = err.attempts === 1 ? '1 attempt' : `${err.attempts} attempts`;
  return new ModelUnavailableError(
    `${provider} is unavailable after ${tries} (${code}): ${message}`,
    details,
  );
}
