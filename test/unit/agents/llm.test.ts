/**
 * The LLM paths with Amazon Bedrock configured (Converse mocked with aws-sdk-client-mock, replies in
 * the recorded Converse shape): the planner's structured plan, and the agents' bounded tool-use loops.
 */
import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { type CodingOutput, coding } from '../../../lambdas/agents/coding.js';
import { type DataOutput, data } from '../../../lambdas/agents/data.js';
import { resolveAgentSettings } from '../../../lambdas/agents/registry.js';
import { RESEARCH_SYSTEM_PROMPT, type ResearchOutput, research } from '../../../lambdas/agents/research.js';
import { type ReviewOutput, review } from '../../../lambdas/agents/review.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import type { Json } from '../../../lambdas/core/schemas.js';
import { createBedrockProvider } from '../../../lambdas/models/index.js';
import { planForTask, planGoal } from '../../../lambdas/orchestrator/planner.js';
import { agentInput, artifactText, DOCS_DIR, runAgent, Upstream } from './helpers.js';

const MODEL_ID = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const client = new BedrockRuntimeClient({ region: 'us-east-1', maxAttempts: 1 });
const bedrock = mockClient(client);
afterEach(() => bedrock.reset());

const model = { provider: 'bedrock' as const, modelId: MODEL_ID, region: 'us-east-1' };
const providerDeps = { bedrockClient: client };
const usage = (inputTokens: number, outputTokens: number) => ({
  inputTokens,
  outputTokens,
  totalTokens: inputTokens + outputTokens,
});

function text(t: string, tokens = usage(300, 80)): ConverseCommandOutput {
  return {
    $metadata: { httpStatusCode: 200 },
    output: { message: { role: 'assistant', content: [{ text: t }] } },
    stopReason: 'end_turn',
    usage: tokens,
    metrics: { latencyMs: 20 },
  };
}
function toolUse(id: string, name: string, input: Record<string, unknown>): ConverseCommandOutput {
  return {
    $metadata: { httpStatusCode: 200 },
    output: {
      message: {
        role: 'assistant',
        content: [{ text: 'Let me look.' }, { toolUse: { toolUseId: id, name, input: input as never } }],
      },
    },
    stopReason: 'tool_use',
    usage: usage(500, 40),
    metrics: { latencyMs: 30 },
  };
}
const converse = () => bedrock.commandCalls(ConverseCommand).map((c) => c.args[0].input);

const GOAL = 'Research heat pumps in ./docs and write a one-page brief, then review it';
const KNOWN = new Set(['research', 'writing', 'review', 'data', 'coding']);
const MODEL_PLAN = {
  steps: [
    { id: 'how', agent: 'research', input: { topic: 'heat pumps', focus: 'how they work' } },
    { id: 'costs', agent: 'research', input: { topic: 'heat pumps', focus: 'costs and risks' } },
    {
      id: 'brief',
      agent: 'writing',
      input: { title: 'Heat pumps', format: 'brief', maxWords: 500 },
      dependsOn: ['how', 'costs'],
    },
    {
      id: 'check',
      agent: 'review',
      input: { requiredSections: ['Summary', 'Sources'], requireCitations: true },
      dependsOn: ['brief'],
    },
  ],
};

describe('planner with a Bedrock model', () => {
  it('asks Converse for a structured plan and validates it like a submitted plan', async () => {
    // Prepare
    bedrock.on(ConverseCommand).resolves(text(JSON.stringify(MODEL_PLAN)));
    // Act
    const plan = await planGoal({
      goal: GOAL,
      inputs: {},
      knownAgents: KNOWN,
      model: createBedrockProvider({ modelId: MODEL_ID, client }),
    });
    // Assess
    expect(plan.source).toBe('planner:model');
    expect(plan.rationale).toBe(
      `Planned by bedrock:${MODEL_ID} with structured output (PlanSpec), validated like a submitted plan.`,
    );
    expect(plan.steps.map((s) => [s.id, s.dependsOn])).toEqual([
      ['how', []],
      ['costs', []],
      ['brief', ['how', 'costs']],
      ['check', ['brief']],
    ]);
    const [call] = converse();
    expect(converse()).toHaveLength(1);
    expect(call?.modelId).toBe(MODEL_ID);
    const system = call?.system?.map((b) => ('text' in b ? b.text : '')).join('\n') ?? '';
    expect(system).toContain('You are the planner of Baton');
    expect(system).toMatch(/- research: Searches the corpus.*Input schema: \{/);
    expect(system).toContain('Answer with a single JSON value that matches the JSON schema below.');
    expect(call?.messages?.[0]?.content?.[0]).toEqual({ text: `Goal: ${GOAL}\n\nTask inputs:\n(none)` });
  });

  it('re-asks once with the validation errors, then accepts the corrected plan', async () => {
    const wrong = {
      steps: [
        { id: 'a', agent: 'researcher', input: {} },
        { id: 'b', agent: 'writing', input: { format: 'poem' }, dependsOn: ['a'] },
      ],
    };
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(text(JSON.stringify(wrong)))
      .resolvesOnce(text(JSON.stringify(MODEL_PLAN)));
    const plan = await planGoal({
      goal: GOAL,
      inputs: {},
      knownAgents: KNOWN,
      model: createBedrockProvider({ modelId: MODEL_ID, client }),
    });
    expect(plan.steps).toHaveLength(4);
    expect(plan.rationale).toContain('re-asked once after: plan.steps[0].agent: unknown agent "researcher"');
    const reask = converse()[1]?.messages?.at(-1)?.content?.[0];
    expect(reask).toEqual({
      text: expect.stringMatching(
        /^That plan is not valid:\n- plan\.steps\[0\]\.agent: unknown agent "researcher"; known agents: coding, data, research, review, writing\n- plan\.steps\[1\]\.input\.format: .*\(agent writing\)\nReply with a corrected plan\.$/,
      ),
    });
  });

  it('fails planning, non-retryably and with the problems, when the plan is still invalid', async () => {
    bedrock.on(ConverseCommand).resolves(text(JSON.stringify({ steps: [{ id: 'a', agent: 'nobody' }] })));
    const err = await planGoal({
      goal: GOAL,
      inputs: {},
      knownAgents: KNOWN,
      model: createBedrockProvider({ modelId: MODEL_ID, client }),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      message: expect.stringContaining(
        'still not valid after one re-ask: plan.steps[0].agent: unknown agent "nobody"',
      ),
    });
    expect(converse()).toHaveLength(2);
  });

  it("records the planner's model calls as the task's ModelCalled events", async () => {
    bedrock.on(ConverseCommand).resolves(text(JSON.stringify(MODEL_PLAN), usage(900, 120)));
    const events: { id: string; type: string; data: Record<string, Json> }[] = [];
    const store = {
      getInputs: async () => ({}),
      appendEvent: async (e: (typeof events)[number]) => events.push(e),
    };
    await planForTask(store, { taskId: 't1', goal: GOAL, traceId: 'tr' }, 2, KNOWN, {
      model: createBedrockProvider({ modelId: MODEL_ID, client }),
    });
    expect(events).toEqual([
      expect.objectContaining({
        id: 'r2.ModelCalled.-.-.1',
        type: 'ModelCalled',
        data: expect.objectContaining({
          model: `bedrock:${MODEL_ID}`,
          outcome: 'ok',
          usage: usage(900, 120),
        }),
      }),
    ]);
  });
});

describe('research agent with a Bedrock model', () => {
  const settings = resolveAgentSettings('research', { tools: { search: { corpusDir: DOCS_DIR } } });

  it('runs a tool-use loop through Converse: the model searches, reads the results and writes cited notes', async () => {
    // Prepare
    const notes =
      '# Research notes: heat pumps\n\n- A heat pump moves heat instead of burning fuel. [1]\n\n## Sources\n\n[1] Heat pumps (heat-pumps.md)';
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(toolUse('tu_1', 'search', { query: 'heat pump how it works' }))
      .resolvesOnce(text(notes));
    // Act
    const { out, events } = await runAgent(
      research,
      agentInput({
        agent: 'research',
        stepId: 'how',
        input: { topic: 'heat pumps', focus: 'how they work' },
      }),
      {
        settings,
        model,
        providerDeps,
      },
    );
    // Assess: two Converse calls, the tool offered, run through the ToolRuntime, and its result sent back
    const calls = converse();
    expect(calls).toHaveLength(2);
    expect(calls[0]?.system).toEqual([{ text: RESEARCH_SYSTEM_PROMPT }]);
    expect(calls[0]?.toolConfig?.tools?.map((t) => t.toolSpec?.name)).toEqual(['http', 'search']);
    const result = calls[1]?.messages?.at(-1)?.content?.[0];
    expect(result?.toolResult?.toolUseId).toBe('tu_1');
    expect(JSON.stringify(result?.toolResult?.content)).toContain('heat-pumps.md');
    expect(artifactText(out, 'notes.md')).toBe(`${notes}\n`);
    expect(out.output).toMatchObject({
      mode: 'model',
      sources: [{ n: 1, label: 'Heat pumps (heat-pumps.md)', kind: 'corpus' }],
    } satisfies Partial<ResearchOutput>);
    expect(events.map((e) => [e.id, e.data.model ?? e.data.tool, e.data.outcome])).toEqual([
      ['r1.ModelCalled.how.1.1', `bedrock:${MODEL_ID}`, 'ok'],
      ['r1.ToolCalled.how.1.1', 'search', 'ok'],
      ['r1.ModelCalled.how.1.2', `bedrock:${MODEL_ID}`, 'ok'],
    ]);
    expect(events[0]?.data.tools).toEqual(['http', 'search']);
  });

  it('shows a refused tool call to the model and goes on', async () => {
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(toolUse('tu_1', 'http', { url: 'http://169.254.169.254/latest/meta-data/' }))
      .resolvesOnce(text('# Research notes: x\n\nNothing could be fetched.'));
    const { out, events } = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'x' } }),
      { settings, model, providerDeps },
    );
    expect(JSON.stringify(converse()[1]?.messages?.at(-1)?.content)).toContain(
      'Error (SsrfBlockedError): Refused to connect to 169.254.169.254',
    );
    expect((out.output as ResearchOutput).fetched).toEqual([
      {
        url: 'http://169.254.169.254/latest/meta-data/',
        ok: false,
        error: expect.stringContaining('Refused'),
      },
    ]);
    expect(events.find((e) => e.type === 'ToolCalled')?.data).toMatchObject({
      tool: 'http',
      outcome: 'error',
    });
  });

  it('answers without tools after the last allowed turn', async () => {
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(toolUse('tu_1', 'search', { query: 'a' }))
      .resolvesOnce(text('# Research notes: a\n\nDone.'));
    await runAgent(research, agentInput({ agent: 'research', input: { topic: 'a', maxTurns: 1 } }), {
      settings,
      model,
      providerDeps,
    });
    expect(converse()).toHaveLength(2);
    expect(converse()[1]?.messages?.at(-1)?.content?.at(-1)).toEqual({
      text: 'You have used all 1 tool turns. Answer now with what you have, without calling tools.',
    });
  });

  it('stops the step when the step token budget is spent, non-retryably', async () => {
    bedrock.on(ConverseCommand).resolves(toolUse('tu_1', 'search', { query: 'a' }));
    const err = await runAgent(
      research,
      agentInput({ agent: 'research', input: { topic: 'a', tokenBudget: 1000 } }),
      { settings, model, providerDeps, stepTokens: 1000 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: ErrorNames.NonRetryable,
      code: 'TokenBudgetExceeded',
      message: expect.stringContaining('step token budget exceeded'),
    });
    expect(converse()).toHaveLength(2);
  });
});

describe('other agents with a Bedrock model', () => {
  it('data: the model writes the SQL; the last successful query is the table', async () => {
    const inputs = {
      datasets: [
        { name: 'sales.csv', contentType: 'text/csv', body: 'region,units\nnorth,3\nsouth,1\nnorth,2\n' },
      ],
    };
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(
        toolUse('tu_1', 'db', {
          sql: 'SELECT region, SUM(units) AS units FROM sales GROUP BY region ORDER BY region',
        }),
      )
      .resolvesOnce(text('North sold 5 units, south 1.'));
    const { out } = await runAgent(
      data,
      agentInput({ agent: 'data', input: { question: 'Units per region?' }, inputs }),
      { model, providerDeps },
    );
    expect(out.summary).toBe('North sold 5 units, south 1.');
    expect(out.output).toMatchObject({
      mode: 'model',
      rows: [
        ['north', 5],
        ['south', 1],
      ],
    } satisfies Partial<DataOutput>);
    expect(JSON.stringify(converse()[0]?.messages)).toContain('sales (dataset sales.csv): region, units');
  });

  it('coding: the model writes and runs the code in the sandbox', async () => {
    bedrock
      .on(ConverseCommand)
      .resolvesOnce(
        toolUse('tu_1', 'shell', { command: 'sh t.sh', files: [{ path: 't.sh', content: 'echo ok' }] }),
      )
      .resolvesOnce(text('Wrote t.sh; it prints ok.'));
    const settings = resolveAgentSettings('coding', { tools: { shell: { enabled: true } } });
    const { out } = await runAgent(coding, agentInput({ agent: 'coding', input: { task: 'print ok' } }), {
      settings,
      model,
      providerDeps,
    });
    expect(out.output).toMatchObject({
      mode: 'model',
      passed: true,
      stdout: 'ok\n',
      runs: 1,
    } satisfies Partial<CodingOutput>);
    expect(artifactText(out, 'report.md')).toContain('## Summary\n\nWrote t.sh; it prints ok.');
  });

  it('review: the model judges against the criteria too, with structured output', async () => {
    bedrock
      .on(ConverseCommand)
      .resolves(text('{"verdict":"fail","reasons":["The summary does not mention costs."]}'));
    const up = new Upstream().add('w', 'writing', [
      {
        name: 'document.md',
        contentType: 'text/markdown',
        body: '# B\n\n## Summary\n\nOk [1]\n\n## Sources\n\n[1] S',
      },
    ]);
    const { out } = await runAgent(
      review,
      agentInput({ agent: 'review', input: { criteria: 'Mentions costs', failOnReject: false } }),
      { model, providerDeps, upstream: up },
    );
    expect(out.output).toEqual({
      verdict: 'fail',
      reasons: ['model: The summary does not mention costs.'],
      checked: ['w/document.md'],
      mode: 'model',
    } satisfies ReviewOutput);
  });
});
