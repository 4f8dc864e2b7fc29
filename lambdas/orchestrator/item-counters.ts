/** A fan-out step's progress counters, written one shard at a time (lambdas/core/fanout.ts COUNTER_SHARDS). */
import { counterShard, type ItemCounter } from '../core/fanout.js';
import type { FanOutPort } from '../core/ports.js';

/**
 * Adds one per index to `counter`, in one write: a batch's items (contiguous indexes) all go to
 * the shard of their batch number (first index / batch size), so batches spread over the shards
 * and a batch costs one write, not one per item.
 */
export async function countByShard(
  counters: FanOutPort,
  taskId: string,
  run: number,
  stepId: string,
  indexes: readonly number[],
  counter: ItemCounter,
): Promise<void> {
  const first = indexes[0];
  if (first === undefined) return;
  const batch = Math.floor(first / indexes.length);
  // countItem shards by the index it is given: give it one that falls in the batch's shard.
  await counters.countItem(taskId, run, stepId, counterShard(batch), counter, indexes.length);
}
