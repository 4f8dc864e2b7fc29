/**
 * Builds the Lambda handler of one agent: agent-side.ts around the agent, serving the step
 * runner's requests. No store, no bucket: an agent function holds no AWS permission of Baton's.
 *
 * The agent's entry (generated at synth by lib/aws/functions.ts `agentEntryFile`) passes the
 * capabilities it imported: only the tool kinds its settings name and the model provider it is
 * configured with. Its settings come from `BATON_AGENT_SETTINGS`, which the stack sets on every
 * agent function, read with those tool kinds.
 */

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import middy from '@middy/core';
import { AgentEnv, type EnvOf, parseEnv } from '../core/env.js';
import { type ModelConfig, modelConfigFromEnv } from '../models/config.js';
import { logLine, observed, scopeOf, xrayTelemetry } from '../shared/observability.js';
import { type AgentRuntimeDeps, serveAgentRequest } from './agent-side.js';
import type { AgentCapabilities } from './context.js';
import type { AgentModule } from './define.js';
import type { AgentResponse } from './protocol.js';
import type { AgentSettings } from './settings.js';
import {
  AGENT_SETTINGS_ENV,
  AgentSettingsError,
  agentSettingsSchema,
  settingsFromEnvWith,
  toolPathsResolved,
} from './settings-core.js';

/** The function's environment, read at the first invocation (a missing variable fails it at once). */
let env: EnvOf<typeof AgentEnv> | undefined;
const agentEnv = () => {
  env ??= parseEnv(AgentEnv, 'an agent function');
  return env;
};

/**
 * The agent's settings from `BATON_AGENT_SETTINGS` (JSON by agent name), read once per
 * container. The stack gives the folders they name relative to the bundle, which carries them
 * (lib/aws/agent-settings.ts): resolved here against the bundle's folder.
 */
function deployedSettings(agent: string, capabilities: AgentCapabilities): AgentSettings {
  const all = settingsFromEnvWith(agentSettingsSchema(capabilities.tools), agentEnv());
  const own = all?.get(agent);
  if (!own)
    throw new AgentSettingsError(
      `${AGENT_SETTINGS_ENV} has no settings for agent "${agent}" (the stack sets them on every agent function)`,
    );
  const bundleDir = dirname(fileURLToPath(import.meta.url));
  return { ...own, tools: toolPathsResolved(own.tools, bundleDir, capabilities.tools) };
}

export interface AgentLambdaOptions {
  /** The tool kinds and model providers the agent's bundle carries. */
  capabilities: AgentCapabilities;
  /** The agent's settings as resolved by the caller (default: from `BATON_AGENT_SETTINGS`). */
  settings?: AgentSettings;
}

/** `agent`: what the agent's module exports, a defineAgent definition or a bare handler. */
export function agentLambda(name: string, agent: AgentModule, options: AgentLambdaOptions) {
  let settings = options.settings;
  let modelDefault: ModelConfig | undefined;
  const runtime: AgentRuntimeDeps = {
    settingsFor: () => {
      settings ??= deployedSettings(name, options.capabilities);
      return settings;
    },
    // BATON_MODEL_CONFIG; offline when unset.
    defaultModel: () => {
      modelDefault ??= modelConfigFromEnv(agentEnv());
      return modelDefault;
    },
    capabilities: options.capabilities,
  };
  const telemetry = xrayTelemetry();
  return middy<unknown, AgentResponse>()
    .use(observed({ scope: agentRequestScope }))
    .handler((event: unknown) => {
      agentEnv();
      return serveAgentRequest(name, agent, event, { runtime, log: logLine, telemetry });
    });
}

/** The step runner's request: the attempt in `input`, run and trace id beside it. */
function agentRequestScope(event: unknown) {
  const e = (event ?? {}) as { input?: unknown; run?: unknown; traceId?: unknown };
  return { ...scopeOf(e.input), ...scopeOf({ run: e.run, traceId: e.traceId }) };
}
