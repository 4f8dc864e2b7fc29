/**
 * Fan-out fakes for unit tests: the progress counters (FanOutPort, sharded as the DynamoDB
 * adapter's) and S3 objects (lambdas/orchestrator/fanout.ts FanOutObjects), plus what a
 * Distributed Map's ResultWriter would write for a set of child executions.
 */
import type { ListedObject } from '../../lambdas/adapters/objects.js';
import { type CounterTotals, counterShard, type ItemCounter } from '../../lambdas/core/fanout.js';
import type { FanOutPort } from '../../lambdas/core/ports.js';
import type { FanOutObjects } from '../../lambdas/orchestrator/fanout.js';

export class MemoryCounters implements FanOutPort {
  /** `<task>#<step>#r<run>#s<shard>` -> counters. */
  readonly shards = new Map<string, CounterTotals>();
  async countItem(taskId: string, run: number, stepId: string, index: number, counter: ItemCounter, by = 1) {
    const key = `${taskId}#${stepId}#r${run}#s${counterShard(index)}`;
    const c = this.shards.get(key) ?? { started: 0, succeeded: 0, failed: 0 };
    c[counter] += by;
    this.shards.set(key, c);
  }
  async itemCounters(taskId: string, run: number, stepId: string): Promise<CounterTotals> {
    const out = { started: 0, succeeded: 0, failed: 0 };
    for (const [k, c] of this.shards)
      if (k.startsWith(`${taskId}#${stepId}#r${run}#`)) {
        out.started += c.started;
        out.succeeded += c.succeeded;
        out.failed += c.failed;
      }
    return out;
  }
}

export class MemoryObjects implements FanOutObjects {
  /** `<bucket>/<key>` -> text. */
  readonly objects = new Map<string, string>();
  private clock = 0;
  private readonly modified = new Map<string, string>();
  async getText(bucket: string, key: string): Promise<string> {
    const text = this.objects.get(`${bucket}/${key}`);
    if (text === undefined) throw new Error(`no object s3://${bucket}/${key}`);
    return text;
  }
  async putText(bucket: string, key: string, body: string, _contentType?: string): Promise<void> {
    this.objects.set(`${bucket}/${key}`, body);
    this.modified.set(`${bucket}/${key}`, new Date(Date.UTC(2030, 0, 1, 0, 0, this.clock++)).toISOString());
  }
  async list(bucket: string, prefix: string, max: number): Promise<ListedObject[]> {
    return [...this.objects.keys()]
      .filter((k) => k.startsWith(`${bucket}/${prefix}`))
      .sort()
      .slice(0, max)
      .map((k) => ({
        key: k.slice(bucket.length + 1),
        size: (this.objects.get(k) ?? '').length,
        lastModified: this.modified.get(k) as string,
      }));
  }
}

/** One child execution as the ResultWriter records it. */
export interface FakeChild {
  items: { index: number; item: unknown }[];
  /** Succeeded: each item's summary and output. */
  results?: { index: number; summary: string; output?: unknown }[];
  /** Failed: the Fail state's error and cause. */
  error?: { Error: string; Cause: string };
}

/** Writes a map run's manifest and result files under `resultPrefix/<run id>/`; returns the manifest's key. */
export async function writeResultWriterFiles(
  objects: MemoryObjects,
  bucket: string,
  resultPrefix: string,
  children: FakeChild[],
  runId = 'run-1',
): Promise<string> {
  const base = `${resultPrefix}/${runId}`;
  const entry = (c: FakeChild) => ({
    ExecutionArn: `arn:aws:states:eu-west-1:1:execution:x:${c.items[0]?.index}`,
    Input: JSON.stringify({ Items: c.items, BatchInput: {} }),
    InputDetails: { Included: true },
    Name: String(c.items[0]?.index),
    Status: c.error ? 'FAILED' : 'SUCCEEDED',
    ...(c.error ? c.error : { Output: JSON.stringify({ results: c.results ?? [] }) }),
  });
  const ok = children.filter((c) => !c.error).map(entry);
  const failed = children.filter((c) => c.error).map(entry);
  const files: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  if (ok.length) {
    await objects.putText(bucket, `${base}/SUCCEEDED_0.json`, JSON.stringify(ok));
    files.SUCCEEDED?.push({ Key: `${base}/SUCCEEDED_0.json`, Size: 1 });
  }
  if (failed.length) {
    await objects.putText(bucket, `${base}/FAILED_0.json`, JSON.stringify(failed));
    files.FAILED?.push({ Key: `${base}/FAILED_0.json`, Size: 1 });
  }
  await objects.putText(
    bucket,
    `${base}/manifest.json`,
    JSON.stringify({ DestinationBucket: bucket, MapRunArn: 'arn:maprun', ResultFiles: files }),
  );
  return `${base}/manifest.json`;
}
