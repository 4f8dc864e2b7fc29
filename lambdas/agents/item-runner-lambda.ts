/** The item runner's Lambda handler: item-runner.ts with the real store, counters, bucket and Lambda client. */
import middy from '@middy/core';
import { AgentInvoker } from '../adapters/agent-invoker.js';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, lambdaClient, s3Client } from '../adapters/clients.js';
import { DynamoFanOut } from '../adapters/dynamodb/fanout.js';
import { TaskStore } from '../adapters/store.js';
import { FUNCTION_ENV, parseEnv } from '../core/env.js';
import { EventMeter } from '../core/metrics.js';
import { ItemsResult } from '../core/states.js';
import { estimateModelCost } from '../models/pricing.js';
import { outputContract } from '../shared/contract.js';
import { logLine, meteredEvents, observed, xrayTelemetry } from '../shared/observability.js';
import { type ItemRunnerDeps, runItems } from './item-runner.js';
import { observedInvoke } from './runner-lambda.js';

let deps: ItemRunnerDeps | undefined;
function wired(): ItemRunnerDeps {
  if (deps) return deps;
  const env = parseEnv(FUNCTION_ENV.itemRunner, 'the item runner');
  const invoker = new AgentInvoker(lambdaClient());
  deps = {
    store: meteredEvents(new TaskStore(documentClient(), env.TABLE_NAME), new EventMeter(estimateModelCost)),
    counters: new DynamoFanOut(documentClient(), env.TABLE_NAME),
    artifacts: new ArtifactStore(s3Client(), env.ARTIFACT_BUCKET),
    invokeAgent: observedInvoke((fn, request) => invoker.invoke(fn, request), xrayTelemetry()),
    log: logLine,
  };
  return deps;
}

export const itemRunner = middy<unknown, ItemsResult>()
  .use(observed())
  .use(outputContract(ItemsResult, 'The item runner'))
  .handler((event: unknown) => runItems(wired(), event));
