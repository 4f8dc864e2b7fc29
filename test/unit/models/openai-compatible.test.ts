import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { ModelRequestError, ModelUnavailableError } from '../../../lambdas/models/errors.js';
import { createOpenAICompatibleProvider } from '../../../lambdas/models/openai-compatible.js';
import type { ToolSpec } from '../../../lambdas/models/types.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}
interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

/** A loopback chat.completions stub: records each request and answers from a queue. */
const recorded: Recorded[] = [];
const replies: Reply[] = [];
let server: Server;
let baseURL: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      recorded.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      });
      const reply = replies.shift() ?? { status: 500, body: { error: { message: 'stub: no reply queued' } } };
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});
beforeEach(() => {
  recorded.length = 0;
  replies.length = 0;
});

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const searchTool: ToolSpec = {
  name: 'web_search',
  description: 'Search the web and return the top results.',
  inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
};

/** Recorded chat.completions responses (vLLM shape). */
const textCompletion = {
  id: 'chatcmpl-9f2c1d7e5b',
  object: 'chat.completion',
  created: 1730000000,
  model: MODEL,
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Step Functions coordinates; Lambda computes.', tool_calls: [] },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 48, completion_tokens: 9, total_tokens: 57 },
};
const toolCallCompletion = {
  id: 'chatcmpl-1a2b3c4d5e',
  object: 'chat.completion',
  created: 1730000001,
  model: MODEL,
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_8x2Yd1',
            type: 'function',
            function: { name: 'web_search', arguments: '{"query":"Step Functions quotas"}' },
          },
        ],
      },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: { prompt_tokens: 120, completion_tokens: 22, total_tokens: 142 },
};

function provider(maxRetries = 2) {
  return createOpenAICompatibleProvider({ baseURL, apiKey: 'sk-test-123', modelId: MODEL, maxRetries });
}

describe('OpenAI-compatible provider', () => {
  it('posts model, messages and tools to /chat/completions with the API key', async () => {
    // Prepare
    replies.push({ status: 200, body: textCompletion });
    // Act
    const result = await provider().generate({
      messages: [
        { role: 'system', content: 'You are the research agent.' },
        { role: 'user', content: 'Compare Step Functions and Lambda.' },
      ],
      tools: [searchTool],
      maxOutputTokens: 256,
      temperature: 0,
    });
    // Assess
    expect(recorded).toHaveLength(1);
    const req = recorded[0];
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/chat/completions');
    expect(req?.headers.authorization).toBe('Bearer sk-test-123');
    expect(req?.body).toMatchObject({
      model: MODEL,
      max_tokens: 256,
      temperature: 0,
      messages: [
        { role: 'system', content: 'You are the research agent.' },
        { role: 'user', content: 'Compare Step Functions and Lambda.' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'web_search',
            description: 'Search the web and return the top results.',
            parameters: expect.objectContaining(searchTool.inputSchema),
          },
        },
      ],
    });
    expect(result).toEqual({
      text: 'Step Functions coordinates; Lambda computes.',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 48, outputTokens: 9, totalTokens: 57 },
      model: `openai-compatible:${MODEL}`,
    });
  });

  it('returns tool calls without executing them', async () => {
    // Prepare
    replies.push({ status: 200, body: toolCallCompletion });
    // Act
    const result = await provider().generate({
      messages: [{ role: 'user', content: 'Find the quotas.' }],
      tools: [searchTool],
    });
    // Assess
    expect(recorded).toHaveLength(1);
    expect(result.toolCalls).toEqual([
      { id: 'call_8x2Yd1', name: 'web_search', arguments: { query: 'Step Functions quotas' } },
    ]);
    expect(result.stopReason).toBe('tool_use');
    expect(result.text).toBe('');
    expect(result.usage).toEqual({ inputTokens: 120, outputTokens: 22, totalTokens: 142 });
  });

  it('sends earlier tool calls and tool results in the chat.completions shape', async () => {
    // Prepare
    replies.push({ status: 200, body: textCompletion });
    // Act
    await provider().generate({
      messages: [
        { role: 'user', content: 'Find the quotas.' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'call_8x2Yd1', name: 'web_search', arguments: { query: 'Step Functions quotas' } },
          ],
        },
        {
          role: 'tool',
          toolCallId: 'call_8x2Yd1',
          name: 'web_search',
          content: '25,000 events per execution',
        },
      ],
      tools: [searchTool],
    });
    // Assess
    expect(recorded[0]?.body.messages).toEqual([
      { role: 'user', content: 'Find the quotas.' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_8x2Yd1',
            type: 'function',
            function: { name: 'web_search', arguments: '{"query":"Step Functions quotas"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_8x2Yd1', content: '25,000 events per execution' },
    ]);
  });

  it('retries a 429 and then succeeds', async () => {
    // Prepare
    replies.push(
      {
        status: 429,
        headers: { 'retry-after': '0' },
        body: {
          error: { message: 'Rate limit reached', type: 'rate_limit_error', code: 'rate_limit_exceeded' },
        },
      },
      { status: 200, body: textCompletion },
    );
    // Act
    const result = await provider().generate({ messages: [{ role: 'user', content: 'Hi' }] });
    // Assess
    expect(recorded).toHaveLength(2);
    expect(recorded[1]?.body).toEqual(recorded[0]?.body);
    expect(result.text).toBe('Step Functions coordinates; Lambda computes.');
  });

  it('gives up on repeated 429s with a retryable typed error', async () => {
    // Prepare
    const rateLimited: Reply = {
      status: 429,
      headers: { 'retry-after-ms': '0' },
      body: {
        error: { message: 'Rate limit reached', type: 'rate_limit_error', code: 'rate_limit_exceeded' },
      },
    };
    replies.push(rateLimited, rateLimited);
    // Act
    const error = await provider(1)
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(recorded).toHaveLength(2);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    const e = error as ModelUnavailableError;
    expect(e.name).toBe(ErrorNames.AgentFailed);
    expect(e.attempts).toBe(2);
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
  });

  it('does not retry a 401 and throws a non-retryable typed error', async () => {
    // Prepare
    replies.push({
      status: 401,
      body: { error: { message: 'Invalid API key', type: 'invalid_request_error' } },
    });
    // Act
    const error = await provider()
      .generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    // Assess
    expect(recorded).toHaveLength(1);
    expect(error).toBeInstanceOf(ModelRequestError);
    const e = error as ModelRequestError;
    expect(e.name).toBe(ErrorNames.NonRetryable);
    expect(e.status).toBe(401);
    expect(e.message).toContain('Invalid API key');
  });

  it('stops with the abort reason when the request is cancelled', async () => {
    // Prepare
    const controller = new AbortController();
    controller.abort(new Error('task cancelled'));
    // Act
    const error = await provider()
      .generate({ messages: [{ role: 'user', content: 'Hi' }], signal: controller.signal })
      .catch((e: unknown) => e);
    // Assess
    expect(recorded).toHaveLength(0);
    expect((error as Error).message).toBe('task cancelled');
  });
});
