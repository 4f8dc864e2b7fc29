/**
 * What the orchestrator's Lambda entries (functions/, one module per function) share: the
 * middleware around a state-machine function and the adapters every orchestrator function uses.
 * Each entry wires only what its use case needs (the Planner its model provider, Finalize the
 * dead-letter queue, RequestApproval SNS and the signing secret), so its bundle carries nothing else.
 */
import middy from '@middy/core';
import type * as z from 'zod';
import { documentClient, sfnClient } from '../adapters/clients.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { type EnvOf, FUNCTION_ENV, parseEnv } from '../core/env.js';
import { agentFunctionName } from '../core/ids.js';
import { EventMeter } from '../core/metrics.js';
import { STATE_CONTRACTS } from '../core/states.js';
import { estimateModelCost } from '../models/pricing.js';
import { outputContract } from '../shared/contract.js';
import { logLine, meteredEvents, observed, xrayTelemetry } from '../shared/observability.js';
import type { OrchestratorDeps } from './deps.js';

/** One per container: what the metrics of later events need (lambdas/core/metrics.ts). */
const meter = new EventMeter(estimateModelCost);

/** The store (its events metered), the workflow client, the log and X-Ray spans. */
export function orchestratorDeps(env: {
  TABLE_NAME: string;
  STATE_MACHINE_ARN?: string;
}): OrchestratorDeps & { store: TaskStore } {
  return {
    store: meteredEvents(new TaskStore(documentClient(), env.TABLE_NAME), meter),
    workflow: new WorkflowClient(sfnClient(), env.STATE_MACHINE_ARN),
    agentFunctions: {},
    log: logLine,
    telemetry: xrayTelemetry(),
  };
}

/** Agent name -> its function name, from the deployment's agent names and function prefix. */
export function agentFunctionsOf(env: { BATON_AGENT_NAMES: string; BATON_AGENT_FUNCTION_PREFIX: string }) {
  const names = env.BATON_AGENT_NAMES.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return Object.fromEntries(names.map((n) => [n, agentFunctionName(env.BATON_AGENT_FUNCTION_PREFIX, n)]));
}

/** The orchestrator functions the state machine calls (each has an input and an output contract in states.ts). */
export type StateFunctionName = Exclude<keyof typeof STATE_CONTRACTS, 'stepRunner'>;

/**
 * One state-machine function: its environment is read at the first invocation (a missing
 * variable fails it at once) and wired by `wire`; its output is checked against its contract
 * (lambdas/core/states.ts).
 */
export function stateFunction<
  F extends StateFunctionName,
  T extends z.output<(typeof STATE_CONTRACTS)[F]['output']>,
  D = OrchestratorDeps,
>(name: F, fn: (d: D, event: unknown) => Promise<T>, wire: (env: EnvOf<(typeof FUNCTION_ENV)[F]>) => D) {
  let deps: D | undefined;
  return middy<unknown, T>()
    .use(observed())
    .use(outputContract(STATE_CONTRACTS[name].output, `The ${name} function`))
    .handler((event: unknown) => {
      deps ??= wire(parseEnv(FUNCTION_ENV[name], `the ${name} function`));
      return fn(deps, event);
    });
}

/** JSON text parsed, or undefined (a message body or an execution input that is not JSON). */
export function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
