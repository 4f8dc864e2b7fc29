/** The IntakeWorker's Lambda entry (SQS intake): starts executions; failed records go back to the queue (and to its DLQ in the end). */
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FUNCTION_ENV, parseEnv } from '../../core/env.js';
import { logger, observed, scopeOf, withLogScope } from '../../shared/observability.js';
import type { OrchestratorDeps } from '../deps.js';
import { startTask } from '../lifecycle.js';
import { orchestratorDeps, parseJson } from '../wiring.js';

let deps: OrchestratorDeps | undefined;
export const intake = middy<SQSEvent, SQSBatchResponse>()
  .use(observed({ scope: () => ({}) }))
  .handler(async (event) => {
    deps ??= orchestratorDeps(parseEnv(FUNCTION_ENV.intake, 'the intake function'));
    const wired = deps;
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        // Each record's lines carry its task and trace (the message body names both).
        await withLogScope(scopeOf(parseJson(record.body)), async () => {
          await startTask(wired, record.body, record.attributes?.AWSTraceHeader);
          logger.info('execution started', { messageId: record.messageId });
        });
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
