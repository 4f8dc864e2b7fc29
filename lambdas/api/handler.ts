/** The API Lambda: one function behind the HTTP API, routed with middy's http-router. */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, s3Client, sfnClient, sqsClient } from '../adapters/clients.js';
import { IntakeQueue } from '../adapters/queue.js';
import { loadSigningSecrets } from '../adapters/secrets.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { knownAgentNames } from '../agents/registry.js';
import { ApiEnv, type EnvOf, parseEnv } from '../core/env.js';
import { logger, logLine } from '../shared/observability.js';
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
    store: new TaskStore(documentClient(), e.TABLE_NAME),
    artifacts: new ArtifactStore(s3Client(), e.ARTIFACT_BUCKET),
    queue: new IntakeQueue(sqsClient(), e.INTAKE_QUEUE_URL),
    workflow: new WorkflowClient(sfnClient(), e.STATE_MACHINE_ARN),
    knownAgents: () => {
      agents ??= knownAgentNames(e.BATON_AGENT_NAMES);
      return agents;
    },
    secrets: () => loadSigningSecrets({ env: e }),
    publicUrl: () => e.BATON_PUBLIC_URL,
    log: logLine,
  };
  return deps;
}

let router: ReturnType<typeof httpRouterHandler<HttpEvent, APIGatewayProxyResultV2>> | undefined;

export const handler = middy<HttpEvent, APIGatewayProxyResultV2>()
  .use(injectLambdaContext(logger))
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
