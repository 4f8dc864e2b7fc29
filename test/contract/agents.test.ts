/**
 * The agent contract, checked for every agent: the built-in ones and every one registered in
 * test/fixtures/baton.config.json (loaded through the agent catalog, as local mode loads them).
 * Each agent runs in the context the harness builds (tools from its settings, the offline model,
 * audit events).
 *
 * 1. Valid input → output that AgentOutput accepts (and, for agents made with defineAgent — every
 *    built-in one and the registered "tally" — their own output schema).
 * 2. Bad input → an error Step Functions will not retry (Baton.NonRetryable), whose message names
 *    the agent and the field that is wrong.
 * 3. No state between calls: the same input twice gives the same output, also when calls for other
 *    inputs run interleaved with it.
 *
 * Which checks apply to the fixture agents (they are test doubles for the runtime, not role agents):
 * - echo, sleep: accept any input, so (2) does not apply; sleep's output holds wall-clock times,
 *   which (3) compares with the times masked.
 * - flaky: fails by design until `input.failures` attempts have passed: (1) and (3) run on an attempt
 *   after that; (2) does not apply (any input is valid).
 * - fail: always throws; checked to throw an Error that says which step failed (the harness turns it
 *   into Baton.AgentFailed), every time, with nothing carried over.
 * - hang: never returns (it exists to test step timeouts); only checked to load as a function.
 * - bulky: makes one binary artifact of `input.bytes` bytes (large-download tests); any input is
 *   valid, so (2) does not apply.
 * - tally: a registered agent made with defineAgent: every check applies, as for built-ins.
 * A newly registered agent without a case here fails the "every agent has a case" test.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderNotes } from '../../lambdas/agents/citations.js';
import { type AgentModule, isAgentDefinition } from '../../lambdas/agents/define.js';
import {
  agentCatalog,
  loadAgent,
  loadBatonConfig,
  resolveAgentSettings,
} from '../../lambdas/agents/registry.js';
import type { AgentSettings } from '../../lambdas/agents/settings.js';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { AgentOutput, type Json } from '../../lambdas/core/schemas.js';
import { agentInput, DOCS_DIR, runAgent, Upstream } from '../unit/agents/helpers.js';

const FIXTURE_CONFIG = resolve(import.meta.dirname, '../fixtures/baton.config.json');
const catalog = agentCatalog(loadBatonConfig(FIXTURE_CONFIG));

interface Call {
  input: Record<string, Json>;
  inputs?: Record<string, Json>;
  upstream?: () => Upstream;
  attempt?: number;
}
interface Case {
  settings?: AgentSettings;
  /** Two different valid calls (the second runs interleaved with the first). */
  valid?: [Call, Call];
  bad?: Call & { message: RegExp };
  /** The agent always throws: the error's message must match. */
  throws?: RegExp;
  /** Why the agent is not run at all. */
  notRun?: string;
}

const notesUpstream = () =>
  new Upstream().add('research-1', 'research', [
    {
      name: 'notes.md',
      contentType: 'text/markdown',
      body: renderNotes({
        title: 'Research notes: heat pumps',
        findings: [{ text: 'Heat pumps move heat.', source: 1 }],
        sources: ['Heat pumps (heat-pumps.md)'],
      }),
    },
  ]);
const documentUpstream = () =>
  new Upstream().add('write', 'writing', [
    {
      name: 'document.md',
      contentType: 'text/markdown',
      body: '# Brief\n\n## Summary\n\nHeat pumps move heat. [1]\n\n## Sources\n\n[1] Heat pumps\n',
    },
  ]);
const sales = {
  datasets: [
    { name: 'sales.csv', contentType: 'text/csv', body: 'region,units\nnorth,3\nsouth,1\nnorth,2\n' },
  ],
};
const files = [{ path: 'test.sh', content: 'echo "$1 ok"\n' }];

const CASES: Record<string, Case> = {
  research: {
    settings: resolveAgentSettings('research', { tools: { search: { corpusDir: DOCS_DIR } } }),
    valid: [
      { input: { topic: 'heat pumps', focus: 'cost, limits and risks' } },
      { input: { topic: 'solar panels' } },
    ],
    bad: { input: { topic: 42 }, message: /^research input is not valid: input\.topic: / },
  },
  writing: {
    valid: [
      { input: { title: 'Heat pumps' }, upstream: notesUpstream },
      { input: { title: 'Heat pumps', format: 'brief' }, upstream: notesUpstream },
    ],
    bad: { input: { maxWords: 'short' }, message: /^writing input is not valid: input\.maxWords: / },
  },
  review: {
    valid: [
      { input: { requiredSections: ['Summary'], requireCitations: true }, upstream: documentUpstream },
      { input: { requiredSections: ['Method'], failOnReject: false }, upstream: documentUpstream },
    ],
    bad: {
      input: { requiredSections: 'Summary' },
      message: /^review input is not valid: input\.requiredSections: /,
    },
  },
  data: {
    valid: [
      { input: { groupBy: 'region', aggregate: { fn: 'sum', column: 'units' } }, inputs: sales },
      { input: {}, inputs: sales },
    ],
    bad: {
      input: { aggregate: { fn: 'median', column: 'units' } },
      inputs: sales,
      message: /^data input is not valid: input\.aggregate/,
    },
  },
  coding: {
    settings: resolveAgentSettings('coding', { tools: { shell: { enabled: true } } }),
    valid: [
      { input: { files, command: ['sh', 'test.sh', 'a'] } },
      { input: { files, command: ['sh', 'test.sh', 'b'] } },
    ],
    bad: { input: { files, command: 42 }, message: /^coding input is not valid: input\.command: / },
  },
  echo: { valid: [{ input: { n: 1 } }, { input: { n: 2 } }] },
  sleep: { valid: [{ input: { ms: 1 } }, { input: { ms: 2 } }] },
  flaky: {
    valid: [
      { input: { failures: 1 }, attempt: 2 },
      { input: { failures: 2 }, attempt: 3 },
    ],
  },
  fail: { throws: /^fail-step always fails$/ },
  hang: { notRun: 'never returns by design (step-timeout tests)' },
  bulky: { valid: [{ input: { bytes: 16 } }, { input: { bytes: 1024 } }] },
  picky: {
    valid: [
      { input: { index: 0, item: { name: 'a' }, failIndexes: [1] } },
      { input: { index: 2, item: { name: 'b' }, failIndexes: [1] } },
    ],
  },
  rows: { valid: [{ input: { count: 2 } }, { input: { count: 3 } }] },
  tally: {
    valid: [{ input: { words: ['heat', 'pumps'] } }, { input: { words: ['solar', 'panels', 'roof'] } }],
    bad: { input: { words: 'heat pumps' }, message: /^tally input is not valid: input\.words: / },
  },
};

/** Agents that must be defineAgent definitions (they have input and output schemas). */
const DEFINED = ['research', 'writing', 'review', 'data', 'coding', 'tally'];

/** Output with wall-clock times masked (an agent may report when it ran). */
const masked = (v: unknown) =>
  JSON.parse(JSON.stringify(v).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')) as unknown;

async function call(agent: string, handler: AgentModule, c: Case, k: Call, stepId = `${agent}-step`) {
  return runAgent(
    handler,
    agentInput({ agent, stepId, input: k.input, inputs: k.inputs ?? {}, attempt: k.attempt ?? 1 }),
    {
      ...(c.settings ? { settings: c.settings } : {}),
      ...(k.upstream ? { upstream: k.upstream() } : {}),
    },
  );
}

describe('the agent catalog under contract', () => {
  it('has a case for every agent, built-in and registered', () => {
    expect(Object.keys(CASES).sort()).toEqual([...catalog.keys()].sort());
    expect([...catalog.values()].filter((e) => e.builtin).map((e) => e.name)).toEqual([
      'research',
      'writing',
      'review',
      'data',
      'coding',
    ]);
  });
});

for (const entry of catalog.values()) {
  const c = CASES[entry.name] ?? {};
  describe(`agent "${entry.name}" (${entry.builtin ? 'built-in' : 'registered'})`, () => {
    if (DEFINED.includes(entry.name)) {
      it('loads as its defineAgent definition', async () => {
        const agent = await loadAgent(entry);
        expect(isAgentDefinition(agent) && agent.name).toBe(entry.name);
      });
    } else {
      it('loads as a function', async () => {
        expect(typeof (await loadAgent(entry))).toBe('function');
      });
    }

    if (c.notRun) it.skip(`is not run: ${c.notRun}`, () => {});

    if (c.valid) {
      const [first, second] = c.valid;
      it('returns contract-valid output for valid input', async () => {
        const handler = await loadAgent(entry);
        for (const k of c.valid ?? []) {
          const { out } = await call(entry.name, handler, c, k);
          expect(() => AgentOutput.parse(out)).not.toThrow();
          if (isAgentDefinition(handler)) expect(() => handler.output.parse(out.output)).not.toThrow();
        }
      });

      it('keeps no state between calls: same input, same output, also interleaved with other calls', async () => {
        const handler = await loadAgent(entry);
        const alone = masked((await call(entry.name, handler, c, first)).out);
        const [a, b, again] = await Promise.all([
          call(entry.name, handler, c, first),
          call(entry.name, handler, c, second),
          call(entry.name, handler, c, first),
        ]);
        const otherAlone = masked((await call(entry.name, handler, c, second)).out);
        expect(masked(a.out)).toEqual(alone);
        expect(masked(again.out)).toEqual(alone);
        expect(masked(b.out)).toEqual(otherAlone);
        expect(otherAlone).not.toEqual(alone);
      });
    }

    if (c.bad) {
      const bad = c.bad;
      it('refuses bad input with a non-retryable error that says what is wrong', async () => {
        const handler = await loadAgent(entry);
        const err = await call(entry.name, handler, c, bad).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).name).toBe(ErrorNames.NonRetryable);
        expect((err as Error).message).toMatch(bad.message);
      });
    }

    if (c.throws) {
      const throws = c.throws;
      it('throws an error that says which step failed, every time', async () => {
        const handler = await loadAgent(entry);
        for (const _ of [1, 2]) {
          const err = await call(entry.name, handler, c, { input: {} }, 'fail-step').catch((e: unknown) => e);
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(throws);
        }
      });
    }
  });
}
