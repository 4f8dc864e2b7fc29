/** Builds the Lambda handler of one agent: the harness around the agent, with real adapters. */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, requireEnv, s3Client } from '../adapters/clients.js';
import { TaskStore } from '../adapters/store.js';
import type { AgentHandler } from '../core/schemas.js';
import { logger, logLine } from '../shared/observability.js';
import { type HarnessDeps, type HarnessResult, runAgentStep } from './harness.js';

let deps: HarnessDeps | undefined;
function wired(): HarnessDeps {
  deps ??= {
    store: new TaskStore(documentClient(), requireEnv('TABLE_NAME')),
    artifacts: new ArtifactStore(s3Client(), requireEnv('ARTIFACT_BUCKET')),
    log: logLine,
  };
  return deps;
}

export function agentLambda(name: string, agent: AgentHandler) {
  return middy<unknown, HarnessResult>()
    .use(injectLambdaContext(logger))
    .handler((event: unknown) => runAgentStep(wired(), name, agent, event));
}
