/**
 * Builds the Lambda handler of one agent: agent-side.ts around the agent, serving the step
 * runner's requests. No store, no bucket: an agent function holds no AWS permission of Baton's.
 */

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import middy from '@middy/core';
import { AgentEnv, type EnvOf, parseEnv } from '../core/env.js';
import { type ModelConfig, modelConfigFromEnv } from '../models/index.js';
import { logLine, observed, scopeOf, xrayTelemetry } from '../shared/observability.js';
import { type AgentRuntimeDeps, serveAgentRequest } from './agent-side.js';
import type { AgentModule } from './define.js';
import type { AgentResponse } from './protocol.js';
import { agentCatalog, loadBatonConfig, resolveAgentSettings } from './registry.js';
import { type AgentSettings, resolveToolPaths, settingsFromEnv } from './settings.js';

/** The function's environment, read at the first invocation (a missing variable fails it at once). */
let env: EnvOf<typeof AgentEnv> | undefined;
const agentEnv = () => {
  env ??= parseEnv(AgentEnv, 'an agent function');
  return env;
};

/**
 * Agents' settings, read once per container: `BATON_AGENT_SETTINGS` (JSON set by the stack on
 * agent functions), else the Baton config named by `BATON_CONFIG` (local mode), else the
 * built-in defaults. The model default is `BATON_MODEL_CONFIG` (offline when unset).
 */
let catalogSettings: Map<string, AgentSettings> | undefined;
function configuredSettings(agent: string): AgentSettings {
  if (!catalogSettings) {
    const deployed = settingsFromEnv(agentEnv());
    catalogSettings =
      (deployed && bundleRelative(deployed)) ??
      new Map(
        [...agentCatalog(loadBatonConfig(agentEnv().BATON_CONFIG))].map(([name, entry]) => [
          name,
          entry.settings,
        ]),
      );
  }
  return catalogSettings.get(agent) ?? resolveAgentSettings(agent);
}

/**
 * The stack gives the folders an agent's settings name relative to the bundle, which carries
 * them (lib/aws/agent-settings.ts): resolved here against the bundle's folder.
 */
function bundleRelative(settings: Map<string, AgentSettings>): Map<string, AgentSettings> {
  const bundleDir = dirname(fileURLToPath(import.meta.url));
  return new Map(
    [...settings].map(([name, s]) => [name, { ...s, tools: resolveToolPaths(s.tools, bundleDir) }]),
  );
}

let modelDefault: ModelConfig | undefined;
const envRuntime: AgentRuntimeDeps = {
  settingsFor: configuredSettings,
  defaultModel: () => {
    modelDefault ??= modelConfigFromEnv(agentEnv());
    return modelDefault;
  },
};

export interface AgentLambdaOptions {
  /** The agent's settings as resolved by the caller (local runtime: from its agent catalog). */
  settings?: AgentSettings;
}

/** `agent`: what the agent's module exports, a defineAgent definition or a bare handler. */
export function agentLambda(name: string, agent: AgentModule, options: AgentLambdaOptions = {}) {
  const agentRuntime: AgentRuntimeDeps = options.settings
    ? { ...envRuntime, settingsFor: () => options.settings as AgentSettings }
    : envRuntime;
  const telemetry = xrayTelemetry();
  return middy<unknown, AgentResponse>()
    .use(observed({ scope: agentRequestScope }))
    .handler((event: unknown) => {
      agentEnv();
      return serveAgentRequest(name, agent, event, { runtime: agentRuntime, log: logLine, telemetry });
    });
}

/** The step runner's request: the attempt in `input`, run and trace id beside it. */
function agentRequestScope(event: unknown) {
  const e = (event ?? {}) as { input?: unknown; run?: unknown; traceId?: unknown };
  return { ...scopeOf(e.input), ...scopeOf({ run: e.run, traceId: e.traceId }) };
}
