/**
 * The agents that ship with Baton, in catalog order, without the config machinery of the
 * registry (registry.ts): what the planner needs of them (descriptions and input contracts).
 * Built-in agent `x` is defined in `lambdas/agents/x.ts` as `export const x = defineAgent({ name: 'x', ... })`.
 */
import { coding } from './coding.js';
import { data } from './data.js';
import type { AgentDefinition } from './define.js';
import { research } from './research.js';
import { review } from './review.js';
import { writing } from './writing.js';

export const BUILTIN_AGENTS: readonly AgentDefinition[] = [research, writing, review, data, coding];

/** A built-in agent's definition by name. */
export function builtinAgent(name: string): AgentDefinition | undefined {
  return BUILTIN_AGENTS.find((a) => a.name === name);
}
