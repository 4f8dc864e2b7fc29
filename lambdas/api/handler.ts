/** The API Lambda: one function behind the HTTP API, routed with middy's http-router. */

import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, s3Client, sfnClient, sqsClient } from '../adapters/clients.js';
import { DynamoFanOut } from '../adapters/dynamodb/fanout.js';
import { IntakeQueue } from '../adapters/queue.js';
import { loadSigningSecrets } from '../adapters/secrets.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { ApiEnv, type EnvOf, parseEnv } from '../core/env.js';
import { newTraceId } from '../core/ids.js';
import { EventMeter } from '../core/metrics.js';
import { requestTraceId } from '../core/trace.js';
import { estimateModelCost } from '../models/pricing.js';
import {
  addLogScope,
  currentLogScope,
  lambdaTraceHeader,
  logger,
  logLine,
  meteredEvents,
  observed,
} from '../shared/observability.js';
import { bearerAuth, type HttpEvent, problemErrors } from './http.js';
import { routeGuard } from './route-guard.js';
import { createRoutes } from './routes.js';
import type { ApiDeps } from './tasks.js';

const OPEN_PATHS = new Set(['/healthz', '/openapi.json']);
/** Approval links: the signature in the link is the credential (GET and POST /approvals/{id}). */
const APPROVAL_LINK = /^\/approvals\/[^/]+$/;

/** The function's environment, read at the first request (a missing variable fails it at once). */
let env: EnvOf<typeof ApiEnv> | undefined;
const apiEnv = () => {
  env ??= parseEnv(ApiEnv, 'the API function');
  return env;
};

let deps: ApiDeps | undefined;
let agents: Set<string> | undefined;
function wired(): ApiDeps {
  const e = apiEnv();
  deps ??= {
    store: meteredEvents(new TaskStore(documentClient(), e.TABLE_NAME), new EventMeter(estimateModelCost)),
    counters: new DynamoFanOut(documentClient(), e.TABLE_NAME),
    artifacts: new ArtifactStore(s3Client(), e.ARTIFACT_BUCKET),
    queue: new IntakeQueue(sqsClient(), e.INTAKE_QUEUE_URL),
    workflow: new WorkflowClient(sfnClient(), e.STATE_MACHINE_ARN),
    knownAgents: () => {
      // The stack sets the deployment's agent names (the registry, with every agent, is not in this bundle).
      agents ??= new Set(
        e.BATON_AGENT_NAMES.split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      );
      return agents;
    },
    secrets: () => loadSigningSecrets({ env: e }),
    publicUrl: () => e.BATON_PUBLIC_URL,
    log: logLine,
    traceId: () => currentLogScope().traceId ?? newTraceId(),
    inTask: (scope) => addLogScope(scope),
  };
  return deps;
}

/**
 * The request's trace: the Lambda's own X-Ray trace, else a valid incoming X-Amzn-Trace-Id, else
 * a new trace id (a task submitted by this request keeps it as its one trace id).
 */
const requestScope = (event: unknown) => {
  const headers = (event as HttpEvent | undefined)?.headers ?? {};
  return { traceId: requestTraceId(lambdaTraceHeader(), headers['x-amzn-trace-id']) };
};

/** The request line: method, path and status (the `handled` line carries them). */
const requestLine = (): middy.MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> => ({
  after: (request) => {
    const status = (request.response as { statusCode?: number } | undefined)?.statusCode;
    logger.appendKeys({
      method: request.event.requestContext?.http?.method,
      path: request.event.rawPath,
      status,
    });
  },
});

let router: ReturnType<typeof httpRouterHandler<HttpEvent, APIGatewayProxyResultV2>> | undefined;

export const handler = middy<HttpEvent, APIGatewayProxyResultV2>()
  .use(observed({ scope: requestScope }))
  .use(requestLine())
  .use(routeGuard())
  .use(
    bearerAuth(
      () => apiEnv().BATON_API_KEY,
      (path) => OPEN_PATHS.has(path) || APPROVAL_LINK.test(path),
    ),
  )
  .use(problemErrors(logLine))
  .handler((event, context) => {
    router ??= httpRouterHandler<HttpEvent, APIGatewayProxyResultV2>(createRoutes(wired()));
    return router(event, context);
  });
