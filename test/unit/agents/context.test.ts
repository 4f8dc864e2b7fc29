/**
 * The agent session (what the harness gives an agent): tools from the agent's settings, the
 * model within budgets, every call an audit event with a deterministic id, errors named for
 * Step Functions, MCP connections closed after the attempt.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tokensUsedByTask } from '../../../lambdas/agents/audit.js';
import { ALL_CAPABILITIES } from '../../../lambdas/agents/capabilities.js';
import { openAgentSession, stepTokenBudget, taskTokenBudget } from '../../../lambdas/agents/context.js';
import { resolveAgentSettings } from '../../../lambdas/agents/registry.js';
import type { AgentSettings } from '../../../lambdas/agents/settings.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { Events } from '../../../lambdas/core/events.js';
import type { AgentInput } from '../../../lambdas/core/schemas.js';
import { TokenBudgetExceededError } from '../../../lambdas/models/budget.js';
import {
  digestArgs,
  SsrfBlockedError,
  ToolNotAllowedError,
  ToolTimeoutError,
} from '../../../lambdas/tools/index.js';
import { agentInput, type RecordedEvent } from './helpers.js';

const input: AgentInput = agentInput({
  agent: 'research',
  stepId: 'r1',
  attempt: 2,
  inputs: { documents: [{ title: 'Doc', text: 'Wind turbines spin.' }] },
});

async function session(settings: AgentSettings, extra: Partial<Parameters<typeof openAgentSession>[0]> = {}) {
  const events: RecordedEvent[] = [];
  const s = await openAgentSession({
    input,
    run: 3,
    traceId: 'tr',
    settings,
    capabilities: ALL_CAPABILITIES,
    defaultModel: { provider: 'offline' },
    sink: async (e) => {
      events.push(e);
    },
    readArtifact: async () => new Uint8Array(),
    log: () => {},
    ...extra,
  });
  return { ...s, events };
}

describe('tools in the agent context', () => {
  it('records every call as a ToolCalled event with a deterministic id, digest and outcome', async () => {
    // Prepare
    const s = await session(resolveAgentSettings('research'));
    // Act
    const result = (await s.ctx.tools?.call('search', { query: 'wind' })) as { hits: { id: string }[] };
    await expect(
      s.ctx.tools?.call('http', { url: 'http://169.254.169.254/latest/meta-data/' }),
    ).rejects.toThrow();
    await s.close();
    // Assess
    expect(result.hits.map((h) => h.id)).toEqual(['documents/1']);
    expect(s.events.map((e) => [e.id, e.type, e.data.tool, e.data.outcome])).toEqual([
      ['r3.ToolCalled.r1.2.1', 'ToolCalled', 'search', 'ok'],
      ['r3.ToolCalled.r1.2.2', 'ToolCalled', 'http', 'error'],
    ]);
    expect(s.events[0]?.data).toMatchObject({
      call: 1,
      attempt: 2,
      argsDigest: digestArgs({ query: 'wind' }),
    });
    expect(s.events[1]?.data.error).toMatchObject({
      name: 'SsrfBlockedError',
      message: expect.stringContaining('169.254.169.254'),
    });
  });

  it('gives the same event ids when the same attempt runs again (a retried Lambda writes no duplicates)', async () => {
    const ids: string[][] = [];
    for (const _ of [1, 2]) {
      const s = await session(resolveAgentSettings('research'));
      await s.ctx.tools?.call('search', { query: 'wind' });
      await s.ctx.tools?.call('search', { query: 'turbines' });
      await s.close();
      ids.push(s.events.map((e) => e.id));
    }
    expect(ids[0]).toEqual(['r3.ToolCalled.r1.2.1', 'r3.ToolCalled.r1.2.2']);
    expect(ids[1]).toEqual(ids[0]);
  });

  it('throws tool failures with the names Step Functions matches, the tool error kept as cause', async () => {
    // Prepare: a server that never answers, and an http tool with a short limit
    const hang: Server = createServer(() => {});
    await new Promise<void>((ok) => hang.listen(0, '127.0.0.1', () => ok()));
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`;
    const s = await session(
      resolveAgentSettings('research', {
        tools: { allow: ['http'], http: { allowPrivate: ['127.0.0.1'], timeoutMs: 200 } },
      }),
    );
    // Act
    const refused = await s.ctx.tools?.call('search', { query: 'x' }).catch((e: unknown) => e);
    const ssrf = await s.ctx.tools?.call('http', { url: 'http://10.0.0.1/' }).catch((e: unknown) => e);
    const slow = await s.ctx.tools?.call('http', { url }).catch((e: unknown) => e);
    await s.close();
    hang.closeAllConnections();
    hang.close();
    // Assess
    expect(refused).toMatchObject({ name: ErrorNames.NonRetryable, cause: expect.any(ToolNotAllowedError) });
    expect(ssrf).toMatchObject({ name: ErrorNames.NonRetryable, cause: expect.any(SsrfBlockedError) });
    expect(slow).toMatchObject({ name: ErrorNames.AgentFailed, cause: expect.any(Error) });
    expect(((slow as Error).cause as Error).name).toBe(new ToolTimeoutError('http', 1).name);
    expect(s.ctx.tools?.list().map((t) => t.name)).toEqual(['http']);
    expect(s.events.map((e) => e.data.outcome)).toEqual(['error', 'error', 'error']);
  });

  it('connects the configured MCP servers and closes them when the attempt ends', async () => {
    // Prepare
    const close = vi.spyOn(Client.prototype, 'close');
    const settings = resolveAgentSettings('echo', {
      tools: {
        mcp: [
          {
            name: 'example',
            transport: 'stdio',
            command: process.execPath,
            args: ['--import', 'tsx', 'lambdas/tools/mcp-example-server.ts'],
            cwd: process.cwd(),
          },
        ],
      },
    });
    const s = await session(settings);
    // Act
    const sum = (await s.ctx.tools?.call('example.add', { a: 2, b: 3 })) as { text: string };
    const before = close.mock.calls.length;
    await s.close();
    // Assess
    expect(settings.tools.allow).toEqual(['example.*']);
    expect(sum.text).toBe('5');
    expect(before).toBe(0);
    expect(close).toHaveBeenCalledTimes(1);
    expect(s.events.map((e) => [e.data.tool, e.data.outcome])).toEqual([['example.add', 'ok']]);
    close.mockRestore();
  });
});

describe('the model in the agent context', () => {
  const client = new BedrockRuntimeClient({ region: 'us-east-1', maxAttempts: 1 });
  const bedrock = mockClient(client);
  const reply: ConverseCommandOutput = {
    $metadata: { httpStatusCode: 200 },
    output: { message: { role: 'assistant', content: [{ text: 'Done.' }] } },
    stopReason: 'end_turn',
    usage: { inputTokens: 400, outputTokens: 100, totalTokens: 500 },
    metrics: { latencyMs: 10 },
  };
  const bedrockModel = { provider: 'bedrock' as const, modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0' };
  afterEach(() => bedrock.reset());

  it('is the offline provider when no model is configured: deterministic, honest', async () => {
    const s = await session(resolveAgentSettings('writing'));
    expect(s.ctx.model?.deterministic).toBe(true);
    expect(s.ctx.model?.id).toBe('offline');
    await s.close();
  });

  it('records each call as a ModelCalled event with usage, and overrides the model per agent', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(reply);
    const s = await session(resolveAgentSettings('writing', { model: { modelId: 'amazon.nova-pro-v1:0' } }), {
      defaultModel: bedrockModel,
      providerDeps: { bedrockClient: client },
    });
    // Act
    const out = await s.ctx.model?.generate({ messages: [{ role: 'user', content: 'Hi' }] });
    await s.close();
    // Assess
    expect(out?.text).toBe('Done.');
    expect(bedrock.commandCalls(ConverseCommand)[0]?.args[0].input.modelId).toBe('amazon.nova-pro-v1:0');
    expect(s.events).toEqual([
      {
        id: 'r3.ModelCalled.r1.2.1',
        type: 'ModelCalled',
        taskId: 't_test',
        stepId: 'r1',
        traceId: 'tr',
        data: expect.objectContaining({
          call: 1,
          attempt: 2,
          model: 'bedrock:amazon.nova-pro-v1:0',
          outcome: 'ok',
          usage: { inputTokens: 400, outputTokens: 100, totalTokens: 500 },
          stepTokensUsed: 500,
          argsDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
        }),
      },
    ]);
  });

  it('stops the step with a clear non-retryable error when the step budget is exceeded', async () => {
    bedrock.on(ConverseCommand).resolves(reply);
    const s = await session(resolveAgentSettings('writing'), {
      defaultModel: bedrockModel,
      providerDeps: { bedrockClient: client },
      stepTokens: 300,
    });
    const err = await s.ctx.model
      ?.generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    await s.close();
    expect(err).toBeInstanceOf(TokenBudgetExceededError);
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      budget: 'step',
      message: expect.stringContaining('step token budget exceeded'),
    });
    expect(s.events[0]?.data).toMatchObject({ outcome: 'over_budget', stepTokensUsed: 500 });
  });

  it('counts the tokens the task used before against the task budget', async () => {
    bedrock.on(ConverseCommand).resolves(reply);
    const s = await session(resolveAgentSettings('writing'), {
      defaultModel: bedrockModel,
      providerDeps: { bedrockClient: client },
      taskTokens: 1000,
      taskTokensUsed: async () => 800,
    });
    const err = await s.ctx.model
      ?.generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    await s.close();
    expect(err).toMatchObject({ name: ErrorNames.NonRetryable, budget: 'task', used: 1300, limit: 1000 });
    expect(s.events[0]?.data).toMatchObject({ outcome: 'over_budget', taskTokensUsed: 1300 });
  });

  it('fails only when called if the model config is unusable', async () => {
    const s = await session(resolveAgentSettings('writing'), {
      defaultModel: {
        provider: 'openai-compatible',
        baseURL: 'http://127.0.0.1:9/v1',
        modelId: 'm',
        apiKeyEnv: 'BATON_TEST_NO_SUCH_KEY',
      },
    });
    const err = await s.ctx.model
      ?.generate({ messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    await s.close();
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: expect.stringContaining('BATON_TEST_NO_SUCH_KEY'),
    });
  });
});

describe('budgets', () => {
  it('takes the step budget from the step input, else the agent settings', () => {
    const settings = resolveAgentSettings('research', { budget: { stepTokens: 900 } });
    expect(stepTokenBudget({ tokenBudget: 100 }, settings)).toBe(100);
    expect(stepTokenBudget({}, settings)).toBe(900);
    expect(taskTokenBudget({ maxTokens: 5000 }, settings)).toBe(5000);
    expect(taskTokenBudget({}, resolveAgentSettings('research', {}, { budget: { taskTokens: 7 } }))).toBe(7);
  });

  it("counts a task's earlier ModelCalled tokens, leaving out the current attempt's own", () => {
    // Events.modelCalled gives the events their data; the ids are set here, one per call site.
    const ev = (id: string, totalTokens: number) => ({
      ...Events.modelCalled(
        { taskId: 't', traceId: 'tr', run: 1 },
        {
          call: 1,
          model: 'm',
          argsDigest: '',
          tools: [],
          durationMs: 1,
          outcome: 'ok',
          usage: { inputTokens: totalTokens, outputTokens: 0, totalTokens },
          stepTokensUsed: 0,
        },
      ),
      id,
    });
    const events = [
      ev('r1.ModelCalled.-.-.1', 100),
      ev('r1.ModelCalled.a.1.1', 200),
      ev('r1.ModelCalled.b.1.1', 50),
      ev('r1.ModelCalled.b.1.2', 25),
    ];
    expect(tokensUsedByTask(events)).toBe(375);
    expect(tokensUsedByTask(events, { run: 1, stepId: 'b', attempt: 1 })).toBe(300);
  });
});
