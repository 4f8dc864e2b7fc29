/**
 * What an agent's bundle works with: the tool kinds and the model providers at hand (its generated
 * entry imports only its own, lib/aws/functions.ts). The module maps the entries import from name
 * the real definitions; settings and builds that need a kind or provider the bundle lacks fail
 * for good, naming it.
 */
import { describe, expect, it } from 'vitest';
import { agentLambda } from '../../../lambdas/agents/lambda.js';
import { agentSettingsSchema, settingsFromEnvWith } from '../../../lambdas/agents/settings-core.js';
import { ErrorNames } from '../../../lambdas/core/errors.js';
import { MODEL_PROVIDER_MODULES, MODEL_PROVIDERS, providerFrom } from '../../../lambdas/models/index.js';
import { BUILTIN_TOOLS, TOOL_MODULES, TOOL_SECTIONS } from '../../../lambdas/tools/index.js';
import { buildToolSet } from '../../../lambdas/tools/kinds.js';
import { searchTool } from '../../../lambdas/tools/search.js';
import { PROJECT_ROOT } from '../../../lib/aws/functions.js';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as Error,
  );

describe('the module maps agent entries import from', () => {
  it('name, for every tool section, the module and export of its BUILTIN_TOOLS kind', async () => {
    for (const section of TOOL_SECTIONS) {
      // Act
      const { path, exportName } = TOOL_MODULES[section];
      const mod = (await import(`${PROJECT_ROOT}/${path}`)) as Record<string, unknown>;
      // Assess
      expect(mod[exportName], section).toBe(BUILTIN_TOOLS[section]);
    }
  });

  it('name, for every model provider, the module and export of its factory', async () => {
    for (const [provider, { path, exportName }] of Object.entries(MODEL_PROVIDER_MODULES)) {
      // Act
      const mod = (await import(`${PROJECT_ROOT}/${path}`)) as Record<string, unknown>;
      // Assess
      expect(mod[exportName], provider).toBe(MODEL_PROVIDERS[provider as keyof typeof MODEL_PROVIDERS]);
    }
  });
});

describe('a bundle without a tool kind', () => {
  it('fails to build a section of that kind for good, naming the kinds it has', async () => {
    // Act
    const err = await failure(buildToolSet({ search: {}, db: {} }, { search: searchTool }));
    // Assess
    expect(err).toMatchObject({ name: ErrorNames.NonRetryable });
    expect(err?.message).toContain('without the db tool (it has: search)');
  });

  it('refuses settings that configure that kind', () => {
    // Prepare
    const env = { BATON_AGENT_SETTINGS: JSON.stringify({ a: { tools: { db: {} } } }) };
    // Act
    const read = () => settingsFromEnvWith(agentSettingsSchema({ search: searchTool }), env);
    // Assess
    expect(read).toThrow(expect.objectContaining({ name: ErrorNames.AgentSettingsError }));
  });

  it('reads settings of the kinds it has, with their defaults', () => {
    // Prepare
    const env = { BATON_AGENT_SETTINGS: JSON.stringify({ a: { tools: { search: { maxResults: 3 } } } }) };
    // Act
    const settings = settingsFromEnvWith(agentSettingsSchema({ search: searchTool }), env)?.get('a');
    // Assess
    expect(settings).toEqual({ tools: { search: { maxResults: 3 } }, budget: {} });
  });
});

describe('a bundle without a model provider', () => {
  it('makes the offline provider with none', () => {
    // Act
    const provider = providerFrom({ provider: 'offline' }, {});
    // Assess
    expect(provider.deterministic).toBe(true);
  });

  it('fails for good on a config that names another provider', () => {
    // Act
    const make = () => providerFrom({ provider: 'bedrock', modelId: 'm' }, {});
    // Assess
    expect(make).toThrow(expect.objectContaining({ name: ErrorNames.NonRetryable }));
    expect(make).toThrow(/names the bedrock provider, but this bundle was built without it/);
  });
});

describe('an agent function without its settings', () => {
  it('fails the invocation naming BATON_AGENT_SETTINGS', async () => {
    // Prepare: an environment with settings for another agent only
    const before = process.env.BATON_AGENT_SETTINGS;
    process.env.BATON_AGENT_SETTINGS = JSON.stringify({ other: {} });
    const handler = agentLambda('solo', async () => ({ summary: 'never' }), {
      capabilities: { tools: {}, models: {} },
    });
    try {
      // Act
      const err = await failure(
        handler(
          {
            protocol: 1,
            input: {
              taskId: 't',
              stepId: 's',
              attempt: 1,
              agent: 'solo',
              goal: 'g',
              input: {},
              inputs: {},
              upstream: [],
            },
            run: 1,
            traceId: 'tr',
            timeoutSeconds: 10,
            taskTokensUsed: 0,
            readable: [],
            uploads: [],
          },
          { functionName: 'solo', awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 } as never,
        ),
      );
      // Assess
      expect(err).toMatchObject({ name: ErrorNames.AgentSettingsError });
      expect(err?.message).toContain('BATON_AGENT_SETTINGS has no settings for agent "solo"');
    } finally {
      if (before === undefined) delete process.env.BATON_AGENT_SETTINGS;
      else process.env.BATON_AGENT_SETTINGS = before;
    }
  });
});
