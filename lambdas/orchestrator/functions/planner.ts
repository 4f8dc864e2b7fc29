/**
 * The Planner's Lambda entry: plans a task submitted without a plan. Its bundle carries the model
 * provider it is configured with and no other: this module has none (the offline, rule-based
 * planner); planner-bedrock.ts and planner-openai-compatible.ts add theirs (lib/aws/stack.ts
 * picks the entry by the deployment's model config).
 */
import type { ModelFactories } from '../../models/config.js';
import { planTask } from '../lifecycle.js';
import { planForTask } from '../planner.js';
import { agentFunctionsOf, orchestratorDeps, stateFunction } from '../wiring.js';

/** The Planner with the model providers `models` (none: the offline planner only). */
export function plannerFunction(models: ModelFactories) {
  return stateFunction('planner', planTask, (env) => ({
    ...orchestratorDeps(env),
    agentFunctions: agentFunctionsOf(env),
    plan: (store, task, run, known, options = {}) =>
      planForTask(store, task, run, known, { models, ...options }),
  }));
}

export const planner = plannerFunction({});
