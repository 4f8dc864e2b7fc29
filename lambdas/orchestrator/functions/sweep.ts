/** The IntakeSweeper's Lambda entry (scheduled): QUEUED tasks whose start never went out are sent again (sweep.ts). */
import middy from '@middy/core';
import { documentClient, sqsClient } from '../../adapters/clients.js';
import { IntakeQueue } from '../../adapters/queue.js';
import { TaskStore } from '../../adapters/store.js';
import { FUNCTION_ENV, parseEnv } from '../../core/env.js';
import { logLine, observed, publishMetrics } from '../../shared/observability.js';
import { type SweepDeps, type SweepResult, sweepQueuedTasks } from '../sweep.js';

let deps: SweepDeps | undefined;
let sweepAfterSeconds: number | undefined;
export const sweep = middy<unknown, SweepResult>()
  .use(observed({ scope: () => ({}) }))
  .handler(() => {
    if (!deps) {
      const env = parseEnv(FUNCTION_ENV.sweep, 'the sweep function');
      sweepAfterSeconds = env.SWEEP_AFTER_SECONDS;
      deps = {
        store: new TaskStore(documentClient(), env.TABLE_NAME),
        queue: new IntakeQueue(sqsClient(), env.INTAKE_QUEUE_URL),
        log: logLine,
        metrics: publishMetrics,
      };
    }
    return sweepQueuedTasks(deps, new Date(), { afterSeconds: sweepAfterSeconds });
  });
