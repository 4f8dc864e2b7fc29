import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAgentDefinition } from '../../../lambdas/agents/define.js';
import {
  AgentConfigError,
  agentCatalog,
  agentSettingsJson,
  BUILTIN_AGENTS,
  builtinAgent,
  loadAgent,
  loadBatonConfig,
  resolveAgentSettings,
} from '../../../lambdas/agents/registry.js';
import { AGENT_SETTINGS_ENV, settingsFromEnv, toToolsConfig } from '../../../lambdas/agents/settings.js';

function configFile(json: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-config-'));
  const file = join(dir, 'baton.config.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}

describe('agent settings', () => {
  it('gives the built-in agents their default tools, shell off', () => {
    expect(resolveAgentSettings('research').tools).toEqual({
      http: {},
      search: {},
      allow: ['http', 'search'],
    });
    expect(resolveAgentSettings('data').tools).toEqual({ db: {}, allow: ['db'] });
    expect(resolveAgentSettings('coding').tools).toEqual({ shell: { enabled: false }, allow: ['shell'] });
    expect(resolveAgentSettings('writing').tools).toEqual({ allow: [] });
    expect(resolveAgentSettings('review').tools).toEqual({ allow: [] });
    expect(toToolsConfig(resolveAgentSettings('coding').tools).shell).toEqual({ enabled: false });
  });

  it('lays configured sections over the defaults; allow defaults to every configured tool', () => {
    const s = resolveAgentSettings(
      'research',
      {
        tools: {
          search: { corpusDir: '/docs' },
          mcp: [{ name: 'wiki', transport: 'http', url: 'https://mcp.example.com/mcp' }],
        },
        budget: { stepTokens: 10 },
      },
      { budget: { stepTokens: 99, taskTokens: 1000 } },
    );
    expect(s.tools).toMatchObject({
      http: {},
      search: { corpusDir: '/docs' },
      allow: ['http', 'search', 'wiki.*'],
    });
    expect(s.budget).toEqual({ stepTokens: 10, taskTokens: 1000 });
    expect(resolveAgentSettings('research', { tools: { allow: ['search'] } }).tools.allow).toEqual([
      'search',
    ]);
  });

  it('travels to agent functions as BATON_AGENT_SETTINGS and back', () => {
    const catalog = agentCatalog({
      config: { agents: { coding: { tools: { shell: { enabled: true } } } } },
      baseDir: '/cfg',
    });
    const env = { [AGENT_SETTINGS_ENV]: agentSettingsJson(catalog) };
    const back = settingsFromEnv(env);
    expect(back?.get('coding')?.tools.shell).toEqual({ enabled: true });
    expect(back?.get('research')).toEqual(resolveAgentSettings('research'));
    expect(settingsFromEnv({})).toBeUndefined();
    expect(() => settingsFromEnv({ [AGENT_SETTINGS_ENV]: '{"x": {"tools": {"nope": 1}}}' })).toThrow(
      /BATON_AGENT_SETTINGS is not valid/,
    );
  });
});

describe('the agent catalog', () => {
  it('has the five built-in role agents', async () => {
    const catalog = agentCatalog({ config: { agents: {} }, baseDir: '.' });
    expect([...catalog.keys()]).toEqual(['research', 'writing', 'review', 'data', 'coding']);
    // Each built-in module exports its definition under the agent's name.
    for (const entry of catalog.values()) expect(await loadAgent(entry)).toBe(builtinAgent(entry.name));
    expect(Object.keys(BUILTIN_AGENTS)).toHaveLength(5);
  });

  it('configures built-in agents with entries without a handler, paths relative to the config file', () => {
    const file = configFile({
      agents: {
        research: { tools: { search: { corpusDir: './docs' } }, model: { modelId: 'amazon.nova-lite-v1:0' } },
        coding: { tools: { shell: { enabled: true } }, timeoutSeconds: 120 },
        echo: { handler: './echo.mjs#handler', tools: { db: {} } },
      },
      budget: { taskTokens: 50000 },
    });
    const catalog = agentCatalog(loadBatonConfig(file));
    expect(catalog.get('research')?.settings).toMatchObject({
      tools: { search: { corpusDir: resolve(file, '../docs') } },
      model: { modelId: 'amazon.nova-lite-v1:0' },
      budget: { taskTokens: 50000 },
    });
    expect(catalog.get('coding')).toMatchObject({
      builtin: true,
      timeoutSeconds: 120,
      settings: { tools: { shell: { enabled: true }, allow: ['shell'] } },
    });
    expect(catalog.get('echo')).toMatchObject({
      builtin: false,
      modulePath: resolve(file, '../echo.mjs'),
      settings: { tools: { db: {}, allow: ['db'] } },
    });
  });

  it('says what is wrong with a bad config', () => {
    expect(() =>
      agentCatalog(loadBatonConfig(configFile({ agents: { writing: { handler: './w.mjs' } } }))),
    ).toThrow(
      'Agent "writing" is built in; register yours under another name (an entry without "handler" configures the built-in one).',
    );
    expect(() => agentCatalog(loadBatonConfig(configFile({ agents: { mine: { tools: {} } } })))).toThrow(
      /Agent "mine" is not built in, so its entry needs a "handler"/,
    );
    expect(() =>
      loadBatonConfig(configFile({ agents: { coding: { tools: { shell: { enabled: 'yes' } } } } })),
    ).toThrow(/agents\.coding\.tools\.shell\.enabled/);
    expect(() => loadBatonConfig(configFile({ fanOut: { sourceBuckets: ['Not_A_Bucket'] } }))).toThrow(
      /fanOut\.sourceBuckets\.0: an S3 bucket name/,
    );
  });

  it('names the buckets fan-out steps may read items from', () => {
    // Act
    const { config } = loadBatonConfig(
      configFile({ fanOut: { sourceBuckets: ['reports-2026', 'my.data'] } }),
    );
    // Assess
    expect(config.fanOut?.sourceBuckets).toEqual(['reports-2026', 'my.data']);
  });

  it('loads a registered defineAgent definition, and refuses one registered under another name', async () => {
    // Prepare
    const tally = resolve(import.meta.dirname, '../../fixtures/agents/tally.ts');
    const catalog = agentCatalog(
      loadBatonConfig(
        configFile({
          agents: { tally: { handler: `${tally}#tally` }, count: { handler: `${tally}#tally` } },
        }),
      ),
    );
    const entryOf = (name: string) => {
      const entry = catalog.get(name);
      if (!entry) throw new Error(`no catalog entry ${name}`);
      return entry;
    };
    // Act
    const loaded = await loadAgent(entryOf('tally'));
    const renamed = loadAgent(entryOf('count'));
    // Assess
    expect(isAgentDefinition(loaded) && loaded.description).toBe(
      'Counts the words it is given and names the longest',
    );
    await expect(renamed).rejects.toBeInstanceOf(AgentConfigError);
    await expect(renamed).rejects.toThrow(
      /the definition of agent "tally", but the config registers it as "count"/,
    );
  });

  it('keeps the registered agents of the test fixture config', () => {
    const catalog = agentCatalog(
      loadBatonConfig(resolve(import.meta.dirname, '../../fixtures/baton.config.json')),
    );
    expect([...catalog.values()].filter((e) => !e.builtin).map((e) => e.name)).toEqual([
      'echo',
      'sleep',
      'flaky',
      'fail',
      'hang',
      'tally',
      'bulky',
      'picky',
      'rows',
    ]);
  });
});
