/**
 * Execution store: every execution is one JSON file under `<dataDir>/executions/`, replaced
 * atomically (write a temp file, then rename), so a restarted process finds each execution as
 * it was last saved, including those still RUNNING.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EXECUTION_ARN, type ExecutionRecord, type LogSink } from './types.js';

export class ExecutionStore {
  readonly dir: string;
  private readonly chains = new Map<string, { tail: Promise<void>; queued: Promise<void> | undefined }>();

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'executions');
    mkdirSync(this.dir, { recursive: true });
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
    });
    current.queued = write;
    current.tail = write.catch(() => undefined);
    return write;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()].map((chain) => chain.tail));
  }

  private async write(record: ExecutionRecord): Promise<void> {
    const [, , , , smName = 'unknown'] = EXECUTION_ARN.exec(record.executionArn) ?? [];
    const file = path.join(this.dir, `${encodeURIComponent(smName)}~${encodeURIComponent(record.name)}.json`);
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(record)}\n`);
    await rename(temp, file);
  }
}
