/**
 * Builds, once and one after another, the bundled cloud assemblies the integration suites run
 * (lib/local/assembly.ts caches them by content hash). Without it the first runtime of each
 * test file bundles ~15 functions at the same time as the others, on a cold cache, inside the
 * tests' own time limits.
 */
import { resolve } from 'node:path';
import { agentCatalog, loadBatonConfig } from '../lambdas/agents/registry.js';
import { synthAssembly } from '../lib/local/assembly.js';

/** The configs the integration suites start runtimes with (and no model config). */
const CONFIGS = ['baton.config.json', 'agents.config.json', 'bundles.config.json'].map((f) =>
  resolve(import.meta.dirname, 'fixtures', f),
);

export default function setup(): void {
  const model = process.env.BATON_MODEL_CONFIG;
  delete process.env.BATON_MODEL_CONFIG;
  try {
    for (const configPath of CONFIGS)
      synthAssembly(agentCatalog(loadBatonConfig(configPath)), { configPath });
  } finally {
    if (model !== undefined) process.env.BATON_MODEL_CONFIG = model;
  }
}
