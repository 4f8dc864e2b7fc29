import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
  ModelNotReadyException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentFailedError, ErrorNames, NonRetryableError } from '../../../lambdas/core/errors.js';
import { createBedrockProvider } from '../../../lambdas/models/bedrock.js';
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

function provider(client: BedrockRuntimeClient, sleeps: number[] = [], retried: string[] = []) {
  return createBedrockProvider({
    modelId: MODEL,
    client,
    onRetry: ({ attempt, error }) => retried.push(`${attempt}:${(error as Error).name}`),
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

describe('Bedrock Converse provider', () => {
  const client = new BedrockRuntimeClient({ region: 'us-east-1', maxAttempts: 1 });
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

  it('retries a ThrottlingException with backoff, then succeeds', async () => {
    // Prepare
    const sleeps: number[] = [];
    bedrock
      .on(ConverseCommand)
      .rejectsOnce(
        new ThrottlingException({
          message: 'Too many requests, please wait before trying again.',
          $metadata: { httpStatusCode: 429 },
        }),
      )
      .rejectsOnce(
        new ModelNotReadyException({ message: 'Model is not ready', $metadata: { httpStatusCode: 429 } }),
      )
      .resolves(textResponse);
    const retried: string[] = [];
    // Act
    const result = await provider(client, sleeps, retried).generate({
      messages: [{ role: 'user', content: 'Hi' }],
    });
    // Assess
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
    expect(result.text).toBe('Step Functions runs state machines; Lambda runs code.');
    // full jitter with random() = 0.5: half of base * 2^(n-1)
    expect(sleeps).toEqual([50, 100]);
    expect(retried).toEqual(['1:ThrottlingException', '2:ModelNotReadyException']);
  });

  it('gives up after maxAttempts throttles with a retryable typed error', async () => {
    // Prepare
    bedrock
      .on(ConverseCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } }));
    // Act
    const error = await provider(client)
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(3);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(error).toBeInstanceOf(AgentFailedError);
    expect((error as ModelUnavailableError).name).toBe(ErrorNames.AgentFailed);
    expect((error as ModelUnavailableError).attempts).toBe(3);
    expect((error as ModelUnavailableError).code).toBe('ThrottlingException');
  });

  it('does not retry a ValidationException and throws a non-retryable typed error', async () => {
    // Prepare
    const sleeps: number[] = [];
    bedrock.on(ConverseCommand).rejects(
      new ValidationException({
        message: 'The model returned the following errors: messages: roles must alternate',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    // Act
    const error = await provider(client, sleeps)
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(1);
    expect(sleeps).toEqual([]);
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
    bedrock.on(ConverseCommand).callsFake(() => {
      controller.abort(new Error('task cancelled'));
      throw new ThrottlingException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });
    });
    // Act
    const error = await provider(client)
      .generate({ messages: [{ role: 'user', content: 'Hi' }], signal: controller.signal })
      .catch((e: unknown) => e);
    // Assess
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(1);
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
    expect(await shared.config.maxAttempts()).toBe(1);
  });
});
