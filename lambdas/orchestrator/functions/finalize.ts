/** The Finalize Lambda entry: the task's outcome (SUCCEEDED / DEGRADED / FAILED), failed tasks dead-lettered. */
import { sqsClient } from '../../adapters/clients.js';
import { DeadLetterQueue } from '../../adapters/queue.js';
import { finalizeTask } from '../lifecycle.js';
import { orchestratorDeps, stateFunction } from '../wiring.js';

export const finalize = stateFunction('finalize', finalizeTask, (env) => ({
  ...orchestratorDeps(env),
  deadLetters: new DeadLetterQueue(sqsClient(), env.DEAD_LETTER_QUEUE_URL),
}));
