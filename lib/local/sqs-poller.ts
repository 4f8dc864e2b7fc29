/**
 * Local stand-in for a Lambda SQS event source mapping with ReportBatchItemFailures: long-polls
 * a queue, invokes the handler with a real `SQSEvent`, deletes what succeeded and leaves the rest
 * to reappear after the queue's visibility timeout. Dead-lettering is the queue's business: its
 * RedrivePolicy moves a message after `maxReceiveCount` receives (local-aws-sqs implements it).
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';

export type SqsLogLine = Record<string, unknown>;

export interface SqsPollerOptions {
  queueUrl: string;
  client: SQSClient;
  // biome-ignore lint/suspicious/noConfusingVoidType: aws-lambda's SQSHandler contract; an `async () => {}` handler must fit.
  handler: (event: SQSEvent) => Promise<SQSBatchResponse | void>;
  /** Messages per invocation, 1–10 (one ReceiveMessage). Default 10. */
  batchSize?: number;
  /** Long-poll wait, 0–20 s. Default 20. */
  waitTimeSeconds?: number;
  /**
   * Most handler invocations in flight at once; also the number of pollers, since a poller only
   * receives when it has a free slot (received-but-waiting messages would burn their visibility
   * timeout). Default 5, the number of pollers Lambda starts with.
   */
  maxConcurrency?: number;
  /** One structured line per notable event. Default: JSON on stderr. */
  log?: (line: SqsLogLine) => void;
}

export interface SqsPoller {
  /** Stops receiving, lets running invocations finish and their deletes complete. */
  stop(): Promise<void>;
}

export class SqsPollerError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.SqsPollerError;
  }
}

const RETRY_DELAY_MS = 1000;

export function startSqsPoller(opts: SqsPollerOptions): SqsPoller {
  const batchSize = integerOption('batchSize', opts.batchSize ?? 10, 1, 10);
  const waitTimeSeconds = integerOption('waitTimeSeconds', opts.waitTimeSeconds ?? 20, 0, 20);
  const maxConcurrency = integerOption('maxConcurrency', opts.maxConcurrency ?? 5, 1, 1000);
  const log = opts.log ?? ((line: SqsLogLine) => process.stderr.write(`${JSON.stringify(line)}\n`));
  const { client, queueUrl, handler } = opts;
  const stopping = new AbortController();
  let source: Promise<{ arn: string; region: string }> | undefined;

  const eventSource = async () => {
    source ??= client
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }), {
        abortSignal: stopping.signal,
      })
      .then((out) => {
        const arn = out.Attributes?.QueueArn;
        if (!arn) throw new SqsPollerError(`${queueUrl} has no QueueArn attribute`);
        return { arn, region: arn.split(':')[3] ?? '' };
      });
    try {
      return await source;
    } catch (err) {
      source = undefined;
      throw err;
    }
  };

  const pollOnce = async () => {
    const { arn, region } = await eventSource();
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: waitTimeSeconds,
        // Real SQS reads MessageSystemAttributeNames; local-aws-sqs only the older AttributeNames.
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: stopping.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    const records = messages.map((m) => toRecord(m, arn, region));
    const failed = await invoke(records);
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) await deleteMessages(done);
  };

  const invoke = async (records: SQSRecord[]): Promise<Set<string>> => {
    const ids = records.map((r) => r.messageId);
    let response: unknown;
    try {
      response = await handler({ Records: records });
    } catch (err) {
      log({
        level: 'error',
        msg: 'sqs handler failed; the batch will be retried',
        queueUrl,
        messageIds: ids,
        error: describe(err),
      });
      return new Set(ids);
    }
    const failed = batchItemFailures(response, ids);
    if (failed === 'all') {
      log({
        level: 'error',
        msg: 'sqs handler returned an invalid batchItemFailures; the batch will be retried',
        queueUrl,
        messageIds: ids,
      });
      return new Set(ids);
    }
    if (failed.size > 0) {
      log({
        level: 'warn',
        msg: 'sqs handler reported failed items; they will be retried',
        queueUrl,
        messageIds: [...failed],
      });
    }
    return failed;
  };

  const deleteMessages = async (records: SQSRecord[]) => {
    const out = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
    for (const f of out.Failed ?? []) {
      const record = records[Number(f.Id)];
      log({
        level: 'error',
        msg: 'sqs delete failed; the message will be delivered again',
        queueUrl,
        messageId: record?.messageId,
        code: f.Code,
        error: f.Message,
      });
    }
  };

  const pollerLoop = async () => {
    while (!stopping.signal.aborted) {
      try {
        await pollOnce();
      } catch (err) {
        const cancelledByStop = stopping.signal.aborted && err instanceof Error && err.name === 'AbortError';
        if (!cancelledByStop)
          log({ level: 'error', msg: 'sqs poll failed; retrying', queueUrl, error: describe(err) });
        await sleep(RETRY_DELAY_MS, stopping.signal);
      }
    }
  };

  const loops = Array.from({ length: maxConcurrency }, () => pollerLoop());
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        await Promise.all(loops);
      })();
      return stopped;
    },
  };
}

/**
 * Lambda's reading of a ReportBatchItemFailures response: nothing, or an empty list, means all
 * succeeded; an identifier that is missing or not in the batch fails the whole batch.
 */
function batchItemFailures(response: unknown, ids: string[]): Set<string> | 'all' {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') return 'all';
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return 'all';
  const inBatch = new Set(ids);
  const failed = new Set<string>();
  for (const item of list) {
    const id =
      typeof item === 'object' && item !== null
        ? (item as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof id !== 'string' || !inBatch.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

function toRecord(m: Message, eventSourceARN: string, awsRegion: string): SQSRecord {
  const a = m.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? '',
    SenderId: a.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
  };
  for (const key of [
    'AWSTraceHeader',
    'SequenceNumber',
    'MessageGroupId',
    'MessageDeduplicationId',
    'DeadLetterQueueSourceArn',
  ] as const) {
    const value = a[key];
    if (value !== undefined) attributes[key] = value;
  }
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: v.DataType ?? 'String',
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map(base64),
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: base64(v.BinaryValue) } : {}),
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes !== undefined ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}

/** Lambda delivers binary attribute values base64-encoded; the SDK hands us bytes. */
function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SqsPollerError(`${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
  return value;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
