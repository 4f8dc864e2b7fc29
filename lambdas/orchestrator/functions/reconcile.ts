/** The Reconciler's Lambda entry (EventBridge): execution status changes (TIMED_OUT, ABORTED, FAILED) end their tasks (reconcile.ts). */
import middy from '@middy/core';
import { sqsClient } from '../../adapters/clients.js';
import { DeadLetterQueue } from '../../adapters/queue.js';
import { FUNCTION_ENV, parseEnv } from '../../core/env.js';
import { ReconcileResult } from '../../core/execution-status.js';
import { outputContract } from '../../shared/contract.js';
import { observed, scopeOf } from '../../shared/observability.js';
import type { OrchestratorDeps } from '../deps.js';
import { reconcileExecution } from '../reconcile.js';
import { orchestratorDeps, parseJson } from '../wiring.js';

/** An execution status change event's `detail.input` (the execution input, as JSON text). */
function executionInputOf(event: unknown): unknown {
  const detail = (event as { detail?: { input?: unknown } } | undefined)?.detail;
  return detail?.input;
}

let deps: OrchestratorDeps | undefined;
export const reconcile = middy<unknown, ReconcileResult>()
  .use(observed({ scope: (event) => scopeOf(parseJson(executionInputOf(event))) }))
  .use(outputContract(ReconcileResult, 'The reconcile function'))
  .handler((event: unknown) => {
    if (!deps) {
      const env = parseEnv(FUNCTION_ENV.reconcile, 'the reconcile function');
      deps = {
        ...orchestratorDeps(env),
        deadLetters: new DeadLetterQueue(sqsClient(), env.DEAD_LETTER_QUEUE_URL),
      };
    }
    return reconcileExecution(deps, event);
  });
