/** SQS: the intake queue that buffers task starts, and the dead-letter queue of failed tasks. */
import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BatonError, ErrorNames } from '../core/errors.js';
import type { IntakeMessage } from '../core/schemas.js';
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
): Promise<void> {
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(body),
        MessageAttributes: attributes,
      }),
    );
  } catch (err) {
    throw new QueueError(`Could not ${what}`, { cause: err });
  }
}

export class IntakeQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  send(message: IntakeMessage): Promise<void> {
    return sendJson(
      this.sqs,
      this.queueUrl,
      message,
      { taskId: { DataType: 'String', StringValue: message.taskId } },
      `enqueue task ${message.taskId}`,
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
