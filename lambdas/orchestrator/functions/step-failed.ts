/** The StepFailed Lambda entry (RecordAttemptFailure): records a failed attempt and decides its retry or fallback. */
import { recordAttemptFailure } from '../steps.js';
import { agentFunctionsOf, orchestratorDeps, stateFunction } from '../wiring.js';

export const stepFailed = stateFunction('stepFailed', recordAttemptFailure, (env) => ({
  ...orchestratorDeps(env),
  agentFunctions: agentFunctionsOf(env),
}));
