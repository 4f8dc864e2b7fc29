/** The ItemsFailed Lambda entry: a child execution's failed batch, retried or recorded (store and counters only). */
import { documentClient } from '../../adapters/clients.js';
import { DynamoFanOut } from '../../adapters/dynamodb/fanout.js';
import { itemsFailed as failed } from '../fanout-step.js';
import { orchestratorDeps, stateFunction } from '../wiring.js';

export const itemsFailed = stateFunction('itemsFailed', failed, (env) => ({
  store: orchestratorDeps(env).store,
  counters: new DynamoFanOut(documentClient(), env.TABLE_NAME),
}));
