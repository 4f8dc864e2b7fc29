/** SQS: the intake queue that buffers task starts, and the dead-letter queue of failed tasks. */
import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatonError, ErrorNames } from '../core/errors.js';
import type { IntakeMessage } from '../core/schemas.js';
import { isTraceId, traceHeaderFor } from '../core/trace.js';
import type { DeadLetterRecord } from './store.js';

export class QueueError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.QueueError;
  }
}

/** Sends one JSON message; failures become a QueueError that says what was being sent. */
async function sendJson(
  sqs: SQSClient,
  queueUrl: string,
  body: unknown,
  attributes: Record<string, MessageAttributeValue>,
  what: string,
  traceHeader?: string,
): Promise<void> {
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(body),
        MessageAttributes: attributes,
        // X-Ray: the consumer continues the sender's trace (SQS's AWSTraceHeader system attribute).
        ...(traceHeader
          ? { MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: traceHeader } } }
          : {}),
      }),
    );
  } catch (err) {
    throw new QueueError(`Could not ${what}`, { cause: err });
  }
}

/** The sender's own X-Ray trace header (Lambda sets `_X_AMZN_TRACE_ID` per invocation). */
const lambdaTraceHeader = () => process.env._X_AMZN_TRACE_ID;

export class IntakeQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly ownTraceHeader: () => string | undefined = lambdaTraceHeader,
  ) {}

  /** The message carries the task's trace (AWSTraceHeader), so the intake worker continues it. */
  send(message: IntakeMessage): Promise<void> {
    return sendJson(
      this.sqs,
      this.queueUrl,
      message,
      { taskId: { DataType: 'String', StringValue: message.taskId } },
      `enqueue task ${message.taskId}`,
      isTraceId(message.traceId) ? traceHeaderFor(message.traceId, this.ownTraceHeader()) : undefined,
    );
  }
}

/** Operators subscribe to or poll this queue; GET /dead-letters lists the same records. */
export class DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  send(record: DeadLetterRecord): Promise<void> {
    return sendJson(
      this.sqs,
      this.queueUrl,
      record,
      {
        taskId: { DataType: 'String', StringValue: record.taskId },
        run: { DataType: 'Number', StringValue: String(record.run) },
      },
      `dead-letter task ${record.taskId}`,
    );
  }
}
