/**
 * Execution store: every execution is one JSON file under `<dataDir>/executions/`, replaced
 * atomically (write a temp file, then rename), so a restarted process finds each execution as
 * it was last saved, including those still RUNNING.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StatusEventOutbox, type StatusEventSink } from './status-events.js';
import { EXECUTION_ARN, type ExecutionRecord, type LogSink } from './types.js';

export class ExecutionStore {
  readonly dir: string;
  private readonly chains = new Map<string, { tail: Promise<void>; queued: Promise<void> | undefined }>();
  private readonly outbox: StatusEventOutbox;

  /** `statusEvents`: where a record's queued status change events go once it is saved (status-events.ts). */
  constructor(dataDir: string, opts: { statusEvents?: StatusEventSink; log?: LogSink } = {}) {
    this.dir = path.join(dataDir, 'executions');
    mkdirSync(this.dir, { recursive: true });
    const log = opts.log ?? (() => undefined);
    this.outbox = new StatusEventOutbox(
      opts.statusEvents,
      (record) => {
        this.save(record).catch((err: unknown) => {
          log({
            level: 'error',
            msg: 'saving execution failed',
            executionArn: record.executionArn,
            error: String(err),
          });
        });
      },
      log,
    );
  }

  /** Hands over the status events a previous process queued and did not deliver. */
  deliverQueued(records: Iterable<ExecutionRecord>): void {
    for (const record of records) this.outbox.deliverQueued(record);
  }

  loadAll(log: LogSink): ExecutionRecord[] {
    const records: ExecutionRecord[] = [];
    for (const file of readdirSync(this.dir)) {
      const full = path.join(this.dir, file);
      if (file.endsWith('.tmp')) {
        unlinkSync(full); // a write interrupted by a crash; the previous file is intact
        continue;
      }
      if (!file.endsWith('.json')) continue;
      try {
        const record = JSON.parse(readFileSync(full, 'utf8')) as ExecutionRecord;
        if (typeof record.executionArn !== 'string' || typeof record.status !== 'string') {
          throw new Error('not an execution record');
        }
        record.history ??= [];
        record.redriveCount ??= 0;
        records.push(record);
      } catch (err) {
        log({ level: 'warn', msg: 'skipping unreadable execution file', file: full, error: String(err) });
      }
    }
    return records;
  }

  /** Coalesces: while one write runs, at most one more is queued, and it writes the latest state. */
  save(record: ExecutionRecord): Promise<void> {
    const key = record.executionArn;
    let chain = this.chains.get(key);
    if (!chain) {
      chain = { tail: Promise.resolve(), queued: undefined };
      this.chains.set(key, chain);
    }
    if (chain.queued) return chain.queued;
    const current = chain;
    const write = current.tail.then(async () => {
      current.queued = undefined;
      await this.write(record);
      // What the file now holds is durable: its queued status events can go out.
      this.outbox.deliverQueued(record);
    });
    current.queued = write;
    current.tail = write.catch(() => undefined);
    return write;
  }

  /** Resolves when every write and every status event delivery under way has ended. */
  async flush(): Promise<void> {
    do {
      await Promise.all([...this.chains.values()].map((chain) => chain.tail));
      await this.outbox.idle();
    } while ([...this.chains.values()].some((chain) => chain.queued));
  }

  private async write(record: ExecutionRecord): Promise<void> {
    const [, , , , smName = 'unknown'] = EXECUTION_ARN.exec(record.executionArn) ?? [];
    const file = path.join(this.dir, `${encodeURIComponent(smName)}~${encodeURIComponent(record.name)}.json`);
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(record)}\n`);
    await rename(temp, file);
  }
}
