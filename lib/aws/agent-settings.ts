/**
 * An agent's settings as deployed (BATON_AGENT_SETTINGS on its function): what the bundle can use
 * in Lambda, with nothing of the synth machine in it.
 *
 * - `tools.db.wasmPath` is dropped: every agent bundle carries sql.js's wasm beside it
 *   (functions.ts SQL_WASM) and a path on the synth machine would not exist in Lambda.
 */
import type { AgentSettings } from '../../lambdas/agents/settings.js';

export function deployedSettings(settings: AgentSettings): AgentSettings {
  const { db, ...tools } = settings.tools;
  if (!db) return settings;
  const { wasmPath: _synthMachinePath, ...dbConfig } = db;
  return { ...settings, tools: { ...tools, db: dbConfig } };
}
