import { Readable } from 'node:stream';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentFailedError, ErrorNames, NonRetryableError } from '../../../lambdas/core/errors.js';
import {
  createBedrockClient,
  createBedrockProvider,
  DEFAULT_BEDROCK_MAX_ATTEMPTS,
} from '../../../lambdas/models/bedrock.js';
import { ModelRequestError, ModelUnavailableError } from '../../../lambdas/models/errors.js';
import type { ToolSpec } from '../../../lambdas/models/types.js';

const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const metadata = {
  httpStatusCode: 200,
  requestId: '5d1f3c2e-0000-4000-8000-000000000001',
  attempts: 1,
  totalRetryDelay: 0,
};

const searchTool: ToolSpec = {
  name: 'web_search',
  description: 'Search the web and return the top results.',
  inputSchema: {
    type: 'object',
    properties: { query: { type: 'string' }, limit: { type: 'integer', minimum: 1 } },
    required: ['query'],
  },
};

/** Recorded shape of a Converse reply with text only. */
const textResponse: ConverseCommandOutput = {
  $metadata: metadata,
  output: {
    message: {
      role: 'assistant',
      content: [{ text: 'Step Functions runs state machines; ' }, { text: 'Lambda runs code.' }],
    },
  },
  stopReason: 'end_turn',
  usage: { inputTokens: 412, outputTokens: 17, totalTokens: 429 },
  metrics: { latencyMs: 731 },
};

/** Recorded shape of a Converse reply that asks for a tool. */
const toolUseResponse: ConverseCommandOutput = {
  $metadata: metadata,
  output: {
    message: {
      role: 'assistant',
      content: [
        { text: 'I will search for that.' },
        {
          toolUse: {
            toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
            name: 'web_search',
            input: { query: 'AWS Step Functions quotas', limit: 3 },
          },
        },
      ],
    },
  },
  stopReason: 'tool_use',
  usage: { inputTokens: 505, outputTokens: 71, totalTokens: 576 },
  metrics: { latencyMs: 1204 },
};

function provider(client: BedrockRuntimeClient) {
  return createBedrockProvider({ modelId: MODEL, client });
}

/** An HTTP reply of the Bedrock Runtime service: a Converse result, or an error of `type`. */
type Reply = { status: 200; body: unknown } | { status: number; type: string; message: string };

interface SentRequest {
  path: string;
  headers: Record<string, string>;
}

/**
 * A client made by `createBedrockClient` whose HTTP handler answers from `replies` (the last one
 * repeats): the SDK's middleware stack, its retry strategy included, runs as in production.
 * `onRequest` runs before each reply (e.g. to abort).
 */
function scriptedClient(replies: Reply[], options: { maxAttempts?: number; onRequest?: () => void } = {}) {
  const sent: SentRequest[] = [];
  const client = createBedrockClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    requestHandler: {
      handle: async (request: { path: string; headers: Record<string, string> }) => {
        sent.push({ path: request.path, headers: { ...request.headers } });
        options.onRequest?.();
        const reply = (replies.length > 1 ? replies.shift() : replies[0]) as Reply;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if ('type' in reply) headers['x-amzn-errortype'] = reply.type;
        const body = 'type' in reply ? { message: reply.message } : reply.body;
        return {
          response: {
            statusCode: reply.status,
            headers,
            body: Readable.from([Buffer.from(JSON.stringify(body))]),
          },
        };
      },
    },
  });
  return { client, sent };
}

/** The Converse result of `textResponse`, as the service sends it. */
const textReply: Reply = {
  status: 200,
  body: {
    output: textResponse.output,
    stopReason: textResponse.stopReason,
    usage: textResponse.usage,
    metrics: textResponse.metrics,
  },
};

describe('Bedrock Converse provider', () => {
  const client = new BedrockRuntimeClient({ region: 'us-east-1' });
  const bedrock = mockClient(client);
  afterEach(() => bedrock.reset());

  it('sends system prompt, messages and tools in the Converse shape', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(textResponse);
    // Act
    await provider(client).generate({
      messages: [
        { role: 'system', content: 'You are the research agent.' },
        { role: 'user', content: 'What limits does Step Functions have?' },
      ],
      tools: [searchTool],
      maxOutputTokens: 1024,
      temperature: 0.2,
    });
    // Assess
    const calls = bedrock.commandCalls(ConverseCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      modelId: MODEL,
      system: [{ text: 'You are the research agent.' }],
      messages: [{ role: 'user', content: [{ text: 'What limits does Step Functions have?' }] }],
      inferenceConfig: { maxTokens: 1024, temperature: 0.2 },
      toolConfig: {
        tools: [
          {
            toolSpec: {
              name: 'web_search',
              description: 'Search the web and return the top results.',
              inputSchema: { json: searchTool.inputSchema },
            },
          },
        ],
      },
    });
  });

  it('sends earlier tool calls as toolUse and tool results as toolResult in one user turn', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(textResponse);
    // Act
    await provider(client).generate({
      messages: [
        { role: 'user', content: 'Compare two services.' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'tu_1', name: 'web_search', arguments: { query: 'Step Functions' } },
            { id: 'tu_2', name: 'web_search', arguments: { query: 'Lambda' } },
          ],
        },
        { role: 'tool', toolCallId: 'tu_1', name: 'web_search', content: '["sfn result"]' },
        { role: 'tool', toolCallId: 'tu_2', name: 'web_search', content: '["lambda result"]' },
      ],
      tools: [searchTool],
    });
    // Assess
    const input = bedrock.commandCalls(ConverseCommand)[0]?.args[0].input;
    expect(input?.system).toBeUndefined();
    expect(input?.inferenceConfig).toBeUndefined();
    expect(input?.messages).toEqual([
      { role: 'user', content: [{ text: 'Compare two services.' }] },
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'tu_1', name: 'web_search', input: { query: 'Step Functions' } } },
          { toolUse: { toolUseId: 'tu_2', name: 'web_search', input: { query: 'Lambda' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tu_1', content: [{ text: '["sfn result"]' }] } },
          { toolResult: { toolUseId: 'tu_2', content: [{ text: '["lambda result"]' }] } },
        ],
      },
    ]);
  });

  it('parses a text reply and maps usage', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(textResponse);
    // Act
    const result = await provider(client).generate({ messages: [{ role: 'user', content: 'Hi' }] });
    // Assess
    expect(result).toEqual({
      text: 'Step Functions runs state machines; Lambda runs code.',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 412, outputTokens: 17, totalTokens: 429 },
      model: `bedrock:${MODEL}`,
    });
  });

  it('parses a toolUse reply into ToolCalls', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(toolUseResponse);
    // Act
    const result = await provider(client).generate({
      messages: [{ role: 'user', content: 'Find the quotas' }],
      tools: [searchTool],
    });
    // Assess
    expect(result.text).toBe('I will search for that.');
    expect(result.toolCalls).toEqual([
      {
        id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
        name: 'web_search',
        arguments: { query: 'AWS Step Functions quotas', limit: 3 },
      },
    ]);
    expect(result.stopReason).toBe('tool_use');
    expect(result.usage).toEqual({ inputTokens: 505, outputTokens: 71, totalTokens: 576 });
  });

  it('maps max_tokens and unknown stop reasons', async () => {
    // Prepare
    bedrock
      .on(ConverseCommand)
      .resolvesOnce({ ...textResponse, stopReason: 'max_tokens' })
      .resolvesOnce({ ...textResponse, stopReason: 'guardrail_intervened' });
    const p = provider(client);
    // Act
    const first = await p.generate({ messages: [{ role: 'user', content: 'a' }] });
    const second = await p.generate({ messages: [{ role: 'user', content: 'b' }] });
    // Assess
    expect(first.stopReason).toBe('max_tokens');
    expect(second.stopReason).toBe('other');
  });
});

describe('Bedrock retries (the SDK standard retry strategy, through the real middleware stack)', () => {
  // Full jitter with random() = 0: the SDK waits 0 ms between attempts, so the tests do not sleep.
  beforeAll(() => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('retries a ThrottlingException and a ModelNotReadyException, then succeeds', async () => {
    // Prepare
    const { client, sent } = scriptedClient([
      {
        status: 429,
        type: 'ThrottlingException',
        message: 'Too many requests, please wait before trying again.',
      },
      { status: 429, type: 'ModelNotReadyException', message: 'Model is not ready' },
      textReply,
    ]);
    // Act
    const result = await provider(client).generate({ messages: [{ role: 'user', content: 'Hi' }] });
    // Assess
    expect(sent).toHaveLength(3);
    expect(sent.map((r) => r.path)).toEqual(Array(3).fill(`/model/${encodeURIComponent(MODEL)}/converse`));
    expect(sent.map((r) => r.headers['amz-sdk-request'])).toEqual([
      `attempt=1; max=${DEFAULT_BEDROCK_MAX_ATTEMPTS}`,
      `attempt=2; max=${DEFAULT_BEDROCK_MAX_ATTEMPTS}`,
      `attempt=3; max=${DEFAULT_BEDROCK_MAX_ATTEMPTS}`,
    ]);
    expect(result.text).toBe('Step Functions runs state machines; Lambda runs code.');
    expect(result.usage).toEqual({ inputTokens: 412, outputTokens: 17, totalTokens: 429 });
  });

  it('gives up after maxAttempts throttles with a retryable typed error', async () => {
    // Prepare
    const { client, sent } = scriptedClient(
      [{ status: 429, type: 'ThrottlingException', message: 'Rate exceeded' }],
      {
        maxAttempts: 3,
      },
    );
    // Act
    const error = await provider(client)
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(sent).toHaveLength(3);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toBeInstanceOf(AgentFailedError);
    expect((error as ModelUnavailableError).name).toBe(ErrorNames.AgentFailed);
    expect((error as ModelUnavailableError).attempts).toBe(3);
    expect((error as ModelUnavailableError).code).toBe('ThrottlingException');
  });

  it('does not retry a ValidationException and throws a non-retryable typed error', async () => {
    // Prepare
    const { client, sent } = scriptedClient([
      {
        status: 400,
        type: 'ValidationException',
        message: 'The model returned the following errors: messages: roles must alternate',
      },
    ]);
    // Act
    const error = await provider(client)
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(sent).toHaveLength(1);
    expect(error).toBeInstanceOf(ModelRequestError);
    expect(error).toBeInstanceOf(NonRetryableError);
    const e = error as ModelRequestError;
    expect(e.name).toBe(ErrorNames.NonRetryable);
    expect(e.code).toBe('ValidationException');
    expect(e.status).toBe(400);
    expect(e.attempts).toBe(1);
    expect(e.message).toContain('roles must alternate');
    expect(e.cause).toBeInstanceOf(ValidationException);
  });

  it('stops when the request is aborted, without retrying', async () => {
    // Prepare
    const controller = new AbortController();
    const { client, sent } = scriptedClient(
      [{ status: 429, type: 'ThrottlingException', message: 'Rate exceeded' }],
      {
        onRequest: () => controller.abort(new Error('task cancelled')),
      },
    );
    // Act
    const error = await provider(client)
      .generate({ messages: [{ role: 'user', content: 'Hi' }], signal: controller.signal })
      .catch((e: unknown) => e);
    // Assess
    expect(sent).toHaveLength(1);
    expect((error as Error).message).toBe('task cancelled');
  });
});

describe('Bedrock client created by the module', () => {
  // Mocked on the prototype (so the module's own client is mocked) only while this block runs.
  let bedrock: AwsClientStub<BedrockRuntimeClient>;
  beforeAll(() => {
    bedrock = mockClient(BedrockRuntimeClient);
  });
  afterAll(() => bedrock.restore());

  it('is shared across providers and calls (mocked on the prototype)', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(textResponse);
    const a = createBedrockProvider({ modelId: MODEL, region: 'eu-west-1' });
    const b = createBedrockProvider({ modelId: 'amazon.nova-lite-v1:0', region: 'eu-west-1' });
    // Act
    await a.generate({ messages: [{ role: 'user', content: 'one' }] });
    await b.generate({ messages: [{ role: 'user', content: 'two' }] });
    // Assess
    const calls = bedrock.commandCalls(ConverseCommand);
    expect(calls.map((c) => c.args[0].input.modelId)).toEqual([MODEL, 'amazon.nova-lite-v1:0']);
    expect(calls[0]?.thisValue).toBe(calls[1]?.thisValue);
    const shared = calls[0]?.thisValue as BedrockRuntimeClient;
    expect(shared).toBeInstanceOf(BedrockRuntimeClient);
    expect(await shared.config.maxAttempts()).toBe(DEFAULT_BEDROCK_MAX_ATTEMPTS);
    const mode = shared.config.retryMode;
    expect(typeof mode === 'function' ? await mode() : mode).toBe('standard');
  });
});
