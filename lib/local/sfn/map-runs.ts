/**
 * Map Runs on disk: one folder per Map Run under `<dataDir>/map-runs/<id>/`, so that a Map Run of
 * any size keeps only counters and one byte per child workflow in memory, and a restarted
 * process picks it up where it was:
 *
 * - `run.json`        the Map Run (status, settings, counts, outcome), replaced atomically.
 * - `items.jsonl`     the child workflows' inputs in index order (ItemSelector and ItemBatcher
 *                     applied), one line each: `{"n": <items in it>, "input": <its input>}`. Written
 *                     once, before the first child starts (`itemsReady` in run.json says it is whole).
 * - `children.jsonl`  one line per ended child workflow execution: its record, with its own
 *                     history. Appended; a child that ran again (redrive, or an abort) has a later
 *                     line, and the last line of an index is the one that counts.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { appendFile, type FileHandle, open, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { HistoryEvent, Json } from './types.js';

export type MapRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
export type ChildStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** DescribeMapRun's itemCounts / executionCounts. */
export interface MapRunCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
}

export interface MapRunRecord {
  mapRunArn: string;
  id: string;
  /** The execution whose Distributed Map state started it. */
  executionArn: string;
  /** The child workflows' state machine: `stateMachine:<name>/<label>`. */
  stateMachineArn: string;
  stateName: string;
  label: string;
  executionType: 'STANDARD' | 'EXPRESS';
  status: MapRunStatus;
  startDate: string;
  stopDate?: string;
  redriveCount: number;
  redriveDate?: string;
  /** As resolved when it started (0 = up to 10,000, as in AWS). */
  maxConcurrency: number;
  /** Undefined when the state sets neither (then any failed item fails the Map Run). */
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
  itemsReady: boolean;
  itemCount: number;
  childCount: number;
  itemCounts?: MapRunCounts;
  executionCounts?: MapRunCounts;
  /** The Map state's result (JSON text) once SUCCEEDED; error and cause once FAILED. */
  output?: string;
  error?: string;
  cause?: string;
  /** The error cannot be retried or caught (States.Runtime, States.DataLimitExceeded). */
  terminal?: boolean;
}

/** One ended child workflow execution (a line of children.jsonl). */
export interface ChildRecord {
  index: number;
  name: string;
  /** Items it processed: 1, or the size of its batch. */
  items: number;
  status: ChildStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: string;
  stopDate: string;
  redriveCount: number;
  /** The top-level state it entered last, with its input: where a redrive continues it. */
  redriveFrom?: { state: string; input: string };
  history: HistoryEvent[];
}

export interface SpoolLine {
  index: number;
  items: number;
  /** The child's input as JSON text. */
  input: string;
}

/** Where each child's last record is in children.jsonl (offset -1: none). */
export interface ChildIndex {
  status: Uint8Array;
  /** Items in each child (its batch size) as its last record says. */
  items: Uint32Array;
  offsets: Float64Array;
  lengths: Uint32Array;
}

export const CHILD_STATUS_CODE: Readonly<Record<ChildStatus, number>> = {
  SUCCEEDED: 1,
  FAILED: 2,
  TIMED_OUT: 3,
  ABORTED: 4,
};
export const NOT_RUN = 0;

export class MapRunStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'map-runs');
    mkdirSync(this.dir, { recursive: true });
  }

  folder(id: string): string {
    return path.join(this.dir, id);
  }

  file(id: string, name: string): string {
    return path.join(this.dir, id, name);
  }

  async create(record: MapRunRecord): Promise<void> {
    mkdirSync(this.folder(record.id), { recursive: true });
    await this.save(record);
  }

  async save(record: MapRunRecord): Promise<void> {
    const file = this.file(record.id, 'run.json');
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(record)}\n`);
    await rename(temp, file);
  }

  load(id: string): MapRunRecord | undefined {
    if (!/^[0-9a-f-]+$/.test(id)) return undefined;
    try {
      return JSON.parse(readFileSync(this.file(id, 'run.json'), 'utf8')) as MapRunRecord;
    } catch {
      return undefined;
    }
  }

  /** Writes items.jsonl from the start (a spool a crash cut short is written again). */
  spoolWriter(id: string): LineWriter {
    return new LineWriter(createWriteStream(this.file(id, 'items.jsonl'), { flags: 'w' }), 0);
  }

  async *spoolLines(id: string): AsyncGenerator<SpoolLine> {
    let index = 0;
    for await (const line of lines(this.file(id, 'items.jsonl'))) {
      // `{"n":<items>,"input":<json>}`: the input is kept as text, not parsed and written again.
      const comma = line.indexOf(',');
      yield { index, items: Number(line.slice(5, comma)), input: line.slice(comma + 9, -1) };
      index += 1;
    }
  }

  /**
   * Reads children.jsonl: the last record of each index (and, when `keep` says so, the record
   * itself). A line a crash cut short is dropped from the file, so appending goes on after the
   * last whole line.
   */
  async scanChildren(
    id: string,
    childCount: number,
    keep: (record: ChildRecord) => boolean = () => false,
  ): Promise<{ index: ChildIndex; kept: Map<number, ChildRecord>; size: number }> {
    const index: ChildIndex = {
      status: new Uint8Array(childCount),
      items: new Uint32Array(childCount),
      offsets: new Float64Array(childCount).fill(-1),
      lengths: new Uint32Array(childCount),
    };
    const kept = new Map<number, ChildRecord>();
    const file = this.file(id, 'children.jsonl');
    let size = 0;
    try {
      await stat(file);
    } catch {
      return { index, kept, size };
    }
    for await (const line of lines(file)) {
      let record: ChildRecord;
      try {
        record = JSON.parse(line) as ChildRecord;
      } catch {
        break; // the last line, cut short by a crash
      }
      const length = Buffer.byteLength(line) + 1;
      if (record.index >= 0 && record.index < childCount) {
        index.status[record.index] = CHILD_STATUS_CODE[record.status];
        index.items[record.index] = record.items;
        index.offsets[record.index] = size;
        index.lengths[record.index] = length - 1;
        if (keep(record)) kept.set(record.index, record);
        else kept.delete(record.index);
      }
      size += length;
    }
    const { size: onDisk } = await stat(file);
    if (onDisk > size) await truncate(file, size);
    // A whole last record whose newline the crash cut off.
    else if (onDisk < size) await appendFile(file, '\n');
    return { index, kept, size };
  }

  /** Appends to children.jsonl from byte `size` (what `scanChildren` found whole). */
  childLog(id: string, size: number): LineWriter {
    return new LineWriter(createWriteStream(this.file(id, 'children.jsonl'), { flags: 'a' }), size);
  }

  /** Reads records of children.jsonl by offset (one open file for many reads). */
  openChildren(id: string): ChildReader {
    return new ChildReader(this.file(id, 'children.jsonl'));
  }
}

export class ChildReader {
  private handle: Promise<FileHandle> | undefined;

  constructor(private readonly file: string) {}

  async read(offset: number, length: number): Promise<ChildRecord> {
    this.handle ??= open(this.file, 'r');
    const buffer = Buffer.alloc(length);
    await (await this.handle).read(buffer, 0, length, offset);
    return JSON.parse(buffer.toString('utf8')) as ChildRecord;
  }

  async close(): Promise<void> {
    if (this.handle) await (await this.handle).close();
    this.handle = undefined;
  }
}

/** Appends lines to a file and knows the byte offset of each. */
export class LineWriter {
  private failure: Error | undefined;
  /** One wait for 'drain' shared by every writer that finds the stream full. */
  private drained: Promise<void> | undefined;

  constructor(
    private readonly stream: WriteStream,
    private position: number,
  ) {
    stream.on('error', (err) => {
      this.failure = err;
    });
  }

  /** Writes `value` as one JSON line; resolves with its offset once the stream can take more. */
  async write(value: unknown): Promise<{ offset: number; length: number }> {
    if (this.failure) throw this.failure;
    const text = JSON.stringify(value);
    const length = Buffer.byteLength(text);
    const offset = this.position;
    this.position += length + 1;
    if (!this.stream.write(`${text}\n`)) await this.drain();
    return { offset, length };
  }

  /** Writes an already serialized JSON line. */
  async writeRaw(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.position += Buffer.byteLength(text) + 1;
    if (!this.stream.write(`${text}\n`)) await this.drain();
  }

  private drain(): Promise<void> {
    this.drained ??= new Promise<void>((resolve) =>
      this.stream.once('drain', () => {
        this.drained = undefined;
        resolve();
      }),
    );
    return this.drained;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
    if (this.failure) throw this.failure;
  }
}

async function* lines(file: string): AsyncGenerator<string> {
  const reader = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of reader) if (line.length > 0) yield line;
}

/** A spool line: the child's input kept as JSON text. */
export function spoolLine(items: number, input: Json): string {
  return `{"n":${items},"input":${JSON.stringify(input)}}`;
}
