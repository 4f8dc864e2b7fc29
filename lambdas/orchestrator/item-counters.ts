/** A fan-out step's progress counters, written one shard at a time (lambdas/core/fanout.ts COUNTER_SHARDS). */
import { counterShard, type ItemCounter } from '../core/fanout.js';
import type { FanOutPort } from '../core/ports.js';

/** Adds one per index to `counter`: one write per shard the indexes fall in, not one per item. */
export async function countByShard(
  counters: FanOutPort,
  taskId: string,
  run: number,
  stepId: string,
  indexes: readonly number[],
  counter: ItemCounter,
): Promise<void> {
  const byShard = new Map<number, { index: number; n: number }>();
  for (const index of indexes) {
    const shard = counterShard(index);
    const got = byShard.get(shard);
    byShard.set(shard, { index: got?.index ?? index, n: (got?.n ?? 0) + 1 });
  }
  await Promise.all(
    [...byShard.values()].map(({ index, n }) => counters.countItem(taskId, run, stepId, index, counter, n)),
  );
}
