/**
 * The Lambda handlers of fan-out steps (PrepareItems, ItemsFailed, CollectItems): middleware
 * wiring around lambdas/orchestrator/fanout.ts, as handlers.ts does for the other orchestrator
 * functions (environment read at the first invocation, output checked against its contract).
 */
import middy from '@middy/core';
import type { z } from 'zod';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, s3Client, sfnClient } from '../adapters/clients.js';
import { DynamoFanOut } from '../adapters/dynamodb/fanout.js';
import { ObjectStore } from '../adapters/objects.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { FUNCTION_ENV, parseEnv } from '../core/env.js';
import { EventMeter } from '../core/metrics.js';
import { STATE_CONTRACTS } from '../core/states.js';
import { estimateModelCost } from '../models/pricing.js';
import { outputContract } from '../shared/contract.js';
import { logLine, meteredEvents, observed, xrayTelemetry } from '../shared/observability.js';
import type { FanOutDeps } from './fanout.js';
import * as fanOut from './fanout.js';

type FanOutFunction = 'prepareItems' | 'itemsFailed' | 'collectItems';

const meter = new EventMeter(estimateModelCost);

function wired(name: FanOutFunction): FanOutDeps {
  const env = parseEnv(FUNCTION_ENV[name], `the ${name} function`);
  const bucket = 'ARTIFACT_BUCKET' in env ? env.ARTIFACT_BUCKET : '';
  const sources = 'FANOUT_SOURCE_BUCKETS' in env ? (env.FANOUT_SOURCE_BUCKETS ?? '') : '';
  return {
    store: meteredEvents(new TaskStore(documentClient(), env.TABLE_NAME), meter),
    counters: new DynamoFanOut(documentClient(), env.TABLE_NAME),
    objects: new ObjectStore(s3Client()),
    artifacts: new ArtifactStore(s3Client(), bucket),
    bucket,
    sourceBuckets: sources
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    workflow: new WorkflowClient(sfnClient()),
    agentFunctions: {},
    log: logLine,
    telemetry: xrayTelemetry(),
  };
}

const wrap = <F extends FanOutFunction, T extends z.output<(typeof STATE_CONTRACTS)[F]['output']>>(
  name: F,
  fn: (d: FanOutDeps, event: unknown) => Promise<T>,
) => {
  let deps: FanOutDeps | undefined;
  return middy<unknown, T>()
    .use(observed())
    .use(outputContract(STATE_CONTRACTS[name].output, `The ${name} function`))
    .handler((event: unknown) => {
      deps ??= wired(name);
      return fn(deps, event);
    });
};

export const prepareItems = wrap('prepareItems', fanOut.prepareItems);
export const itemsFailed = wrap('itemsFailed', fanOut.itemsFailed);
export const collectItems = wrap('collectItems', fanOut.collectItems);
