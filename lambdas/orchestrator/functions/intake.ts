/** The IntakeWorker's Lambda entry (SQS intake): starts a batch's executions side by side; failed records go back to the queue (and to its DLQ in the end). */
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { FUNCTION_ENV, parseEnv } from '../../core/env.js';
import { logger, observed, scopeOf } from '../../shared/observability.js';
import type { OrchestratorDeps } from '../deps.js';
import { startTasks } from '../lifecycle.js';
import { orchestratorDeps, parseJson } from '../wiring.js';

let deps: OrchestratorDeps | undefined;
export const intake = middy<SQSEvent, SQSBatchResponse>()
  .use(observed({ scope: () => ({}) }))
  .handler(async (event) => {
    deps ??= orchestratorDeps(parseEnv(FUNCTION_ENV.intake, 'the intake function'));
    const failed = await startTasks(
      deps,
      event.Records.map((r) => ({
        messageId: r.messageId,
        body: r.body,
        traceHeader: r.attributes?.AWSTraceHeader,
      })),
      // Each record's lines carry its task and trace (the message body names both). The records
      // run side by side, so each logs through a child logger of its own: the invocation-wide
      // scope (withLogScope) would mix them.
      async (record, start) => {
        const log = logger.createChild({ persistentKeys: { ...scopeOf(parseJson(record.body)) } });
        try {
          await start();
          log.info('execution started', { messageId: record.messageId });
        } catch (err) {
          log.error('Could not start a task execution', { messageId: record.messageId, error: err as Error });
          throw err;
        }
      },
    );
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = failed.map((itemIdentifier) => ({
      itemIdentifier,
    }));
    return { batchItemFailures };
  });
