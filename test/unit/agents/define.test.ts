/**
 * defineAgent and the checks the harness runs around every agent (invokeAgent before,
 * checkAgentOutput after): a definition's step input is parsed before its handler runs, its
 * offline path runs without a real model, and output that breaks the generic AgentOutput
 * contract or the definition's own output schema — circular or oddly typed output included —
 * is a ContractViolationError, which the state machine never retries.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AgentModule,
  checkAgentOutput,
  defineAgent,
  invokeAgent,
  isAgentDefinition,
} from '../../../lambdas/agents/define.js';
import { ContractViolationError, ErrorNames, NON_RETRYABLE_ERRORS } from '../../../lambdas/core/errors.js';
import type { AgentContext, AgentHandler } from '../../../lambdas/core/schemas.js';
import type { ModelProvider } from '../../../lambdas/models/types.js';
import { agentInput, runAgent } from './helpers.js';

const Count = z.object({ count: z.number().int().min(0) }).strict();

/** A definition whose paths say which one ran, in `calls`. */
function counter() {
  const calls: string[] = [];
  const agent = defineAgent({
    name: 'counter',
    description: 'Counts the items of its input',
    input: z.object({ items: z.array(z.string()) }).strict(),
    output: Count,
    offline: async (_input, _ctx, p) => {
      calls.push('offline');
      return { summary: `${p.items.length} items (offline)`, output: { count: p.items.length } };
    },
    handler: async (_input, _ctx, p) => {
      calls.push('handler');
      return { summary: `${p.items.length} items`, output: { count: p.items.length } };
    },
  });
  return { agent, calls };
}

const live: ModelProvider = {
  id: 'test:live',
  deterministic: false,
  generate: async () => {
    throw new Error('not called in these tests');
  },
};
const ctxWith = (model?: ModelProvider): AgentContext => ({
  readArtifact: async () => new Uint8Array(),
  log: () => {},
  ...(model ? { model } : {}),
});

/** The error `checkAgentOutput` throws for `raw` (or undefined when it passes). */
function violation(raw: unknown, agent?: AgentModule): unknown {
  try {
    checkAgentOutput('counter', raw, agent);
    return undefined;
  } catch (err) {
    return err;
  }
}

function expectViolation(err: unknown, message: RegExp): void {
  expect(err).toBeInstanceOf(ContractViolationError);
  expect((err as Error).name).toBe(ErrorNames.ContractViolation);
  expect(NON_RETRYABLE_ERRORS).toContain((err as Error).name);
  expect((err as Error).message).toMatch(message);
}

describe('defineAgent', () => {
  it('makes a frozen definition that a loaded module can be told by', () => {
    // Act
    const { agent } = counter();
    const bare: AgentHandler = async () => ({ summary: 'bare' });
    // Assess
    expect(isAgentDefinition(agent)).toBe(true);
    expect(isAgentDefinition(bare)).toBe(false);
    expect(Object.isFrozen(agent)).toBe(true);
    expect(agent.defaultTools).toEqual({});
  });

  it('refuses a name that is not an agent name', () => {
    // Act
    const define = () =>
      defineAgent({ name: 'My Agent', description: 'x', input: z.object({}), output: z.object({}), handler });
    async function handler() {
      return { summary: 'x', output: {} };
    }
    // Assess
    expect(define).toThrow(ContractViolationError);
    expect(define).toThrow(/Agent name "My Agent" is not valid/);
  });
});

describe('invokeAgent (before the agent runs)', () => {
  it('refuses step input that breaks the input schema before the handler runs, naming the field', async () => {
    // Prepare
    const { agent, calls } = counter();
    // Act
    const err = await invokeAgent(
      agent,
      agentInput({ agent: 'counter', input: { items: 'a,b' } }),
      ctxWith(live),
    ).catch((e: unknown) => e);
    // Assess
    expect((err as Error).name).toBe(ErrorNames.NonRetryable);
    expect((err as Error).message).toMatch(/^counter input is not valid: input\.items: /);
    expect(calls).toEqual([]);
  });

  it('runs the offline path without a real model and the handler with one, with the parsed input', async () => {
    // Prepare
    const { agent, calls } = counter();
    const input = agentInput({ agent: 'counter', input: { items: ['a', 'b'] } });
    // Act
    const withOffline = await runAgent(agent, input);
    const withLive = await invokeAgent(agent, input, ctxWith(live));
    const withNone = await invokeAgent(agent, input, ctxWith());
    // Assess
    expect(withOffline.out).toEqual({ summary: '2 items (offline)', output: { count: 2 } });
    expect(withLive).toEqual({ summary: '2 items', output: { count: 2 } });
    expect(withNone).toEqual({ summary: '2 items (offline)', output: { count: 2 } });
    expect(calls).toEqual(['offline', 'handler', 'offline']);
  });

  it('calls a bare handler as it is', async () => {
    // Prepare
    const bare: AgentHandler = async (input) => ({ summary: `bare ${input.stepId}` });
    // Act
    const out = await invokeAgent(bare, agentInput({ agent: 'bare', input: { anything: 1 } }), ctxWith());
    // Assess
    expect(out).toEqual({ summary: 'bare bare' });
  });
});

describe('checkAgentOutput (after the agent ran)', () => {
  it('passes output that meets both contracts, and bare-handler output without an own schema', () => {
    // Prepare
    const { agent } = counter();
    // Act
    const checked = checkAgentOutput('counter', { summary: 'ok', output: { count: 1 } }, agent);
    const bare = checkAgentOutput('bare', { summary: 'ok', output: { anything: [1, 'x', null] } });
    // Assess
    expect(checked).toEqual({ summary: 'ok', output: { count: 1 } });
    expect(bare).toEqual({ summary: 'ok', output: { anything: [1, 'x', null] } });
  });

  it("refuses output that breaks the definition's own output schema, naming the field", () => {
    // Prepare
    const { agent } = counter();
    // Act
    const wrongType = violation({ summary: 'ok', output: { count: 'two' } }, agent);
    const extraField = violation({ summary: 'ok', output: { count: 2, more: true } }, agent);
    const missing = violation({ summary: 'ok' }, agent);
    // Assess
    expectViolation(
      wrongType,
      /^Agent "counter" returned output that breaks its output schema: output\.count: /,
    );
    expectViolation(extraField, /its output schema: output: .*more/);
    expectViolation(missing, /its output schema: output: /);
  });

  it('refuses output that breaks the generic agent contract', () => {
    // Act
    const noSummary = violation({ output: { count: 1 } });
    const notAnObject = violation('done');
    const badArtifact = violation({
      summary: 'ok',
      artifacts: [{ name: '../x', contentType: 'text/plain', body: '' }],
    });
    // Assess
    expectViolation(noSummary, /breaks the agent contract: summary: /);
    expectViolation(notAnObject, /breaks the agent contract: \(output\): /);
    expectViolation(badArtifact, /breaks the agent contract: artifacts\.0\.name: /);
  });

  it('refuses circular output with a contract violation, not a stack overflow', () => {
    // Prepare
    const loop: Record<string, unknown> = { count: 1 };
    loop.self = loop;
    const { agent } = counter();
    // Act
    const err = violation({ summary: 'ok', output: loop }, agent);
    // Assess
    expectViolation(err, /breaks the agent contract: output\.self: refers back to itself \(circular\)/);
  });

  it('refuses values that are not JSON data: functions, bigints, symbols, class instances, NaN, holes', () => {
    // Prepare
    const cases: [unknown, RegExp][] = [
      [{ summary: 'ok', output: { f: () => 1 } }, /output\.f: a function is not JSON data/],
      [{ summary: 'ok', output: { n: 10n } }, /output\.n: a bigint is not JSON data/],
      [{ summary: 'ok', output: { s: Symbol('x') } }, /output\.s: a symbol is not JSON data/],
      [{ summary: 'ok', output: { at: new Date(0) } }, /output\.at: a Date instance is not JSON data/],
      [{ summary: 'ok', output: { m: new Map() } }, /output\.m: a Map instance is not JSON data/],
      [{ summary: 'ok', output: { x: Number.NaN } }, /output\.x: NaN is not a JSON number/],
      [{ summary: 'ok', output: [1, undefined] }, /output\[1\]: undefined is not JSON data/],
    ];
    for (const [raw, message] of cases) {
      // Act
      const err = violation(raw);
      // Assess
      expectViolation(err, message);
    }
  });

  it('fails a run in a harness-built session the same way', async () => {
    // Prepare
    const negative = defineAgent({
      name: 'negative',
      description: 'Returns a count its own schema forbids',
      input: z.object({}).strict(),
      output: Count,
      handler: async () => ({ summary: 'ok', output: { count: -1 } }),
    });
    // Act
    const err = await runAgent(negative, agentInput({ agent: 'negative' })).catch((e: unknown) => e);
    // Assess
    expectViolation(err, /^Agent "negative" returned output that breaks its output schema: output\.count: /);
  });
});
