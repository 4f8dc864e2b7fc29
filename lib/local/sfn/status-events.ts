/**
 * "Step Functions Execution Status Change" events, as Step Functions sends them to EventBridge on
 * every status change of an execution (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED): AWS's
 * envelope (version, id, detail-type, source, account, time, region, resources) and the
 * DescribeExecution fields in `detail` (lambdas/core/execution-status.ts is the schema).
 *
 * Delivery is an outbox: `queueStatusEvent` puts the event into the execution's record, so it is
 * on disk in the same write as the status it reports; after each save, the store hands the
 * record's queued events to the sink (`deliverQueued`), and drops each one once the sink has
 * delivered it. An event the sink did not deliver before the process stopped is still in the
 * record and is handed over again by the next process (at-least-once, like EventBridge; the
 * event id is the same each time).
 */
import { createHash } from 'node:crypto';
import {
  EXECUTION_STATUS_CHANGE,
  type ExecutionStatusChange,
} from '../../../lambdas/core/execution-status.js';
import { EXECUTION_ARN, type ExecutionRecord } from './types.js';

/** Receives the events; resolves once the event is delivered (or dead-lettered), rejects to keep it queued. */
export type StatusEventSink = (event: ExecutionStatusChange) => Promise<void>;

/** A UUID-shaped id that is the same for the same status change of the same execution. */
function eventId(record: ExecutionRecord): string {
  const hex = createHash('sha256')
    .update(`${record.executionArn}\n${record.status}\n${record.redriveCount}`)
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const ms = (iso: string | undefined) => (iso ? Date.parse(iso) : null);

/** The status change event of the record's current status. */
export function statusChangeEvent(record: ExecutionRecord, time = new Date()): ExecutionStatusChange {
  const [, , region = '', account = ''] = EXECUTION_ARN.exec(record.executionArn) ?? [];
  const ended = record.status !== 'RUNNING';
  return {
    version: '0',
    id: eventId(record),
    'detail-type': EXECUTION_STATUS_CHANGE.detailType,
    source: EXECUTION_STATUS_CHANGE.source,
    account,
    time: `${time.toISOString().slice(0, 19)}Z`,
    region,
    resources: [record.executionArn],
    detail: {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: Date.parse(record.startDate),
      stopDate: ended ? ms(record.stopDate) : null,
      input: record.input,
      inputDetails: { included: true },
      output: record.status === 'SUCCEEDED' ? (record.output ?? null) : null,
      outputDetails: record.status === 'SUCCEEDED' ? { included: true } : null,
      error: ended ? (record.error ?? null) : null,
      cause: ended ? (record.cause ?? null) : null,
      redriveCount: record.redriveCount,
    },
  };
}

/** Queues the event of the record's new status; it goes out after the record's next save. */
export function queueStatusEvent(record: ExecutionRecord): void {
  const event = statusChangeEvent(record);
  const queued = record.statusEvents ?? [];
  if (!queued.some((e) => e.id === event.id)) queued.push(event);
  record.statusEvents = queued;
}

/**
 * Hands the record's queued events to the sink, each once at a time per process. `saved` is
 * called after one was delivered and dropped from the record (the caller saves the record).
 */
export class StatusEventOutbox {
  private readonly inFlight = new Set<string>();
  private readonly deliveries = new Set<Promise<void>>();

  constructor(
    private readonly sink: StatusEventSink | undefined,
    private readonly saved: (record: ExecutionRecord) => void,
    private readonly log: (line: Record<string, unknown>) => void,
  ) {}

  deliverQueued(record: ExecutionRecord): void {
    const sink = this.sink;
    if (!sink) return;
    for (const event of record.statusEvents ?? []) {
      if (this.inFlight.has(event.id)) continue;
      this.inFlight.add(event.id);
      const delivery = sink(event)
        .then(
          () => {
            record.statusEvents = (record.statusEvents ?? []).filter((e) => e.id !== event.id);
            this.saved(record);
          },
          (err: unknown) => {
            // Stays queued in the record: the next process hands it over again.
            this.log({
              level: 'warn',
              msg: 'execution status event not delivered',
              executionArn: record.executionArn,
              status: event.detail.status,
              error: String(err),
            });
          },
        )
        .finally(() => {
          this.inFlight.delete(event.id);
          this.deliveries.delete(delivery);
        });
      this.deliveries.add(delivery);
    }
  }

  /** Resolves when no delivery is under way. */
  async idle(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }
}
