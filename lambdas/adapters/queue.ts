/** SQS: the intake queue that buffers task starts. */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { IntakeMessage } from '../core/schemas.js';
import type { DeadLetterRecord } from './store.js';

export class QueueError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Baton.QueueError';
  }
}

export class IntakeQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: IntakeMessage): Promise<void> {
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(message),
          MessageAttributes: { taskId: { DataType: 'String', StringValue: message.taskId } },
        }),
      );
    } catch (err) {
      throw new QueueError(`Could not enqueue task ${message.taskId}`, { cause: err });
    }
  }
}

/** SQS: the dead-letter queue of failed tasks (operators subscribe or poll; GET /dead-letters lists them). */
export class DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(record: DeadLetterRecord): Promise<void> {
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: JSON.stringify(record),
          MessageAttributes: {
            taskId: { DataType: 'String', StringValue: record.taskId },
            run: { DataType: 'Number', StringValue: String(record.run) },
          },
        }),
      );
    } catch (err) {
      throw new QueueError(`Could not dead-letter task ${record.taskId}`, { cause: err });
    }
  }
}
