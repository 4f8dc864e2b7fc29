/**
 * Amazon Bedrock through the Converse API (`ConverseCommand`) of the AWS SDK, one request per
 * generate call.
 *
 * Retries are the SDK's: the client is created with the standard retry strategy (`retryMode`,
 * `maxAttempts`, default 5 attempts) which retries throttling (ThrottlingException, 429),
 * transient and 5xx errors and errors the service marks retryable (ModelNotReadyException) with
 * capped exponential backoff and full jitter, shares a retry-token bucket across calls, and
 * stops waiting when the request's AbortSignal aborts. This module only turns the final error
 * into a typed model error (with the SDK's attempt count).
 */
import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type Message,
  type SystemContentBlock,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { ModelRequestError, ModelUnavailableError } from './errors.js';
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

/** Attempts in total per generate call (the SDK's standard retry strategy). */
export const DEFAULT_BEDROCK_MAX_ATTEMPTS = 5;

export interface BedrockProviderOptions {
  modelId: string;
  /** Region of the client created by this module; default: the SDK's (AWS_REGION). */
  region?: string;
  /** A client to use instead of the module's own (tests; custom endpoints). See `createBedrockClient`. */
  client?: BedrockRuntimeClient;
}

/**
 * A Bedrock Runtime client with the SDK's standard retry strategy and `maxAttempts` attempts;
 * any other client setting (region, `retryMode: 'adaptive'`, a request handler) may be given.
 */
export function createBedrockClient(config: BedrockRuntimeClientConfig = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    maxAttempts: DEFAULT_BEDROCK_MAX_ATTEMPTS,
    retryMode: 'standard',
    ...config,
  });
}

/** Clients created once per container (per region), reused by every provider and call. */
const clients = new Map<string, BedrockRuntimeClient>();
function sharedClient(region?: string): BedrockRuntimeClient {
  const key = region ?? '';
  let client = clients.get(key);
  if (!client) {
    client = createBedrockClient(region ? { region } : {});
    clients.set(key, client);
  }
  return client;
}

export function createBedrockProvider(options: BedrockProviderOptions): ModelProvider {
  const { modelId } = options;
  const id = `bedrock:${modelId}`;
  return {
    id,
    deterministic: false,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      const client = options.client ?? sharedClient(options.region);
      const input = toConverseInput(modelId, req);
      let output: ConverseCommandOutput;
      try {
        output = await client.send(new ConverseCommand(input), req.signal ? { abortSignal: req.signal } : {});
      } catch (err) {
        // Aborted (the attempt ended, the task was cancelled): keep the abort reason as it is.
        if (req.signal?.aborted) throw req.signal.reason ?? err;
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

/** Client-fault errors that are still worth a later attempt of the step (not of the call). */
const UNAVAILABLE_CLIENT_ERRORS = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ModelNotReadyException',
  'ModelTimeoutException',
  'ModelErrorException',
  'ModelStreamErrorException',
]);

interface SdkErrorLike {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function sdkError(err: unknown): SdkErrorLike {
  return err !== null && typeof err === 'object' ? (err as SdkErrorLike) : {};
}

/**
 * The typed error for what the SDK threw after its retries: a request the model rejected
 * (client fault: validation, access, unknown model) is ModelRequestError (not retried by Step
 * Functions); anything else (throttled, unavailable, network, timeout) ModelUnavailableError.
 */
function toModelError(provider: string, cause: unknown): ModelRequestError | ModelUnavailableError {
  const e = sdkError(cause);
  const status = e.$metadata?.httpStatusCode;
  const code = e.name ?? e.code;
  const attempts = e.$metadata?.attempts ?? 1;
  const message = cause instanceof Error ? cause.message : String(cause);
  const details = { provider, attempts, code, status, cause };
  const clientFault =
    e.$fault === 'client' ||
    (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429);
  if (clientFault && !(code && UNAVAILABLE_CLIENT_ERRORS.has(code))) {
    return new ModelRequestError(`${provider} rejected the request (${code}): ${message}`, details);
  }
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  return new ModelUnavailableError(
    `${provider} is unavailable after ${tries} (${code}): ${message}`,
    details,
  );
}
