/**
 * Orchestrator Lambda handlers: middleware wiring around the use cases. One module, one
 * export per function of the state machine (the stack points each function at its export).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { documentClient, requireEnv, sfnClient, sqsClient } from '../adapters/clients.js';
import { ConsoleApprovalNotifier, SnsApprovalNotifier } from '../adapters/notifier.js';
import { DeadLetterQueue } from '../adapters/queue.js';
import { loadSigningSecrets } from '../adapters/secrets.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { logger, logLine } from '../shared/observability.js';
import * as approvalGates from './approvals.js';
import type { ApprovalServices, OrchestratorDeps } from './deps.js';
import { awaitDependencies } from './gate.js';
import { finalizeTask, planTask, startTask } from './lifecycle.js';
import { completeStep, recordAttemptFailure } from './steps.js';

let deps: OrchestratorDeps | undefined;
function wired(): OrchestratorDeps {
  deps ??= {
    store: new TaskStore(documentClient(), requireEnv('TABLE_NAME')),
    workflow: new WorkflowClient(sfnClient(), process.env.STATE_MACHINE_ARN ?? ''),
    agentFunctions: JSON.parse(process.env.BATON_AGENT_FUNCTIONS ?? '{}') as Record<string, string>,
    ...(process.env.DEAD_LETTER_QUEUE_URL
      ? { deadLetters: new DeadLetterQueue(sqsClient(), process.env.DEAD_LETTER_QUEUE_URL) }
      : {}),
    approvals: approvalServices(),
    log: logLine,
  };
  return deps;
}

/**
 * Approvers are told through SNS when the stack gives a topic (APPROVAL_TOPIC_ARN), else on the
 * console (local mode: the runtime log). Links are signed with the secrets from SSM or the local
 * secret file, and start with BATON_PUBLIC_URL.
 */
function approvalServices(): ApprovalServices {
  const topicArn = process.env.APPROVAL_TOPIC_ARN;
  return {
    secrets: () => loadSigningSecrets(),
    notifier: topicArn ? new SnsApprovalNotifier({ topicArn }) : new ConsoleApprovalNotifier(),
    publicUrl: () => requireEnv('BATON_PUBLIC_URL'),
  };
}

const wrap = <T>(fn: (d: OrchestratorDeps, event: unknown) => Promise<T>) =>
  middy<unknown, T>()
    .use(injectLambdaContext(logger))
    .handler((event: unknown) => fn(wired(), event));

export const planner = wrap(planTask);
export const gate = wrap(awaitDependencies);
export const stepFailed = wrap(recordAttemptFailure);
export const complete = wrap(completeStep);
export const finalize = wrap(finalizeTask);
export const requestApproval = wrap(approvalGates.requestApproval);
export const resolveApproval = wrap(approvalGates.resolveApproval);

/** SQS intake: starts executions; failed records go back to the queue (and to its DLQ in the end). */
export const intake = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler(async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        await startTask(wired(), record.body);
      } catch (err) {
        logger.error('Could not start a task execution', {
          messageId: record.messageId,
          error: err as Error,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
