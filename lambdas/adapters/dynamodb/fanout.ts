/**
 * Fan-out progress counters in the task partition `TASK#<id>`:
 *   FANOUT#<stepId>#r<run>#s<shard>   started, succeeded, failed (numbers, ADDed to)
 * An item adds to the shard of its index (lambdas/core/fanout.ts COUNTER_SHARDS), so items ending
 * at once spread their writes over the shards instead of all updating one item; a reader sums the
 * shards of a step's run with one query. No event is read.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type CounterTotals, counterShard, type ItemCounter } from '../../core/fanout.js';
import type { FanOutPort } from '../../core/ports.js';
import { DynamoTable, taskPk as pk, StoreError } from './table.js';

const prefix = (stepId: string, run: number) => `FANOUT#${stepId}#r${run}#`;

export class DynamoFanOut implements FanOutPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  async countItem(
    taskId: string,
    run: number,
    stepId: string,
    index: number,
    counter: ItemCounter,
    by = 1,
  ): Promise<void> {
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: pk(taskId), sk: `${prefix(stepId, run)}s${counterShard(index)}` },
          UpdateExpression: 'ADD #c :by',
          ExpressionAttributeNames: { '#c': counter },
          ExpressionAttributeValues: { ':by': by },
        }),
      );
    } catch (err) {
      throw new StoreError(`Could not count item ${index} of step ${stepId}`, { cause: err });
    }
  }

  async itemCounters(taskId: string, run: number, stepId: string): Promise<CounterTotals> {
    const shards = await this.t.queryPrefix(pk(taskId), prefix(stepId, run));
    const sum = (k: ItemCounter) => shards.reduce((n, s) => n + (Number(s[k]) || 0), 0);
    return { started: sum('started'), succeeded: sum('succeeded'), failed: sum('failed') };
  }
}
