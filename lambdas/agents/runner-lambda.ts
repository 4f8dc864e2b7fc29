/** The step runner's Lambda handler: runner.ts with the real store, bucket and Lambda client. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { AgentInvoker } from '../adapters/agent-invoker.js';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, lambdaClient, s3Client } from '../adapters/clients.js';
import { TaskStore } from '../adapters/store.js';
import { FUNCTION_ENV, parseEnv } from '../core/env.js';
import { AgentResult } from '../core/states.js';
import { outputContract } from '../shared/contract.js';
import { logger, logLine } from '../shared/observability.js';
import { type RunnerDeps, runStep } from './runner.js';

let deps: RunnerDeps | undefined;
function wired(): RunnerDeps {
  if (deps) return deps;
  const env = parseEnv(FUNCTION_ENV.stepRunner, 'the step runner');
  const invoker = new AgentInvoker(lambdaClient());
  deps = {
    store: new TaskStore(documentClient(), env.TABLE_NAME),
    artifacts: new ArtifactStore(s3Client(), env.ARTIFACT_BUCKET),
    invokeAgent: (fn, request) => invoker.invoke(fn, request),
    log: logLine,
  };
  return deps;
}

export const stepRunner = middy<unknown, AgentResult>()
  .use(injectLambdaContext(logger))
  .use(outputContract(AgentResult, 'The step runner'))
  .handler((event: unknown) => runStep(wired(), event));
