/**
 * Step outcomes in the task partition `TASK#<id>`:
 *   RESULT#<stepId>   the step's outcome (what dependents and finalize read); a SUCCEEDED one is
 *                     final across runs (unless it is a fan-out step's with failed items,
 *                     `items.failed > 0`: a redrive re-runs them)
 * (the agent's `output` as JSON text in `outputJson`, table.ts jsonAttr). A plain step's success
 * carries its StepSucceeded (`putSuccess`, events.ts foldedSucceeded): one write, and the trail's
 * index lists the event. What an attempt produced before its step completes is not stored apart:
 * store.ts reads it back from its StepSucceeded.
 */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskEvent } from '../../core/events.js';
import type { ResultPort, StepResult } from '../../core/ports.js';
import { foldedSucceeded } from './events.js';
import {
  DynamoTable,
  type Item,
  isConditionalFailure,
  jsonAttr,
  taskPk as pk,
  readJsonAttrs,
  StoreError,
  strip,
} from './table.js';

/** An agent's output is the agent's JSON: stored as JSON text (table.ts jsonAttr). */
function withJsonOutput<T extends { output?: unknown }>(rec: T): Item {
  const { output, ...rest } = rec;
  return { ...rest, ...jsonAttr('output', output) };
}

/** The result an item holds (without the StepSucceeded it may carry: events.ts foldedSucceeded). */
const fromItem = (item: Item): Item => {
  const { succeededJson: _event, ...result } = readJsonAttrs(strip(item), ['output']);
  return result;
};

/** The key of a step's result item, and the result an item read with it holds. */
export const resultKey = (taskId: string, stepId: string): Item => ({
  pk: pk(taskId),
  sk: `RESULT#${stepId}`,
});
export const resultOf = (item: Item): StepResult | undefined =>
  String(item.sk).startsWith('RESULT#') ? (fromItem(item) as StepResult) : undefined;

export class DynamoResults implements Pick<ResultPort, 'putResult' | 'getResults'> {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  putResult(taskId: string, result: StepResult): Promise<boolean> {
    return this.put(taskId, result);
  }

  /**
   * A plain step's success in one write: its SUCCEEDED result carrying its StepSucceeded
   * (events.ts foldedSucceeded), under putResult's condition. A fan-out step's success, which a
   * redrive can replace, is not written this way.
   */
  async putSuccess(taskId: string, result: StepResult, event: TaskEvent): Promise<boolean> {
    if (result.status !== 'SUCCEEDED' || result.items !== undefined || event.stepId !== result.stepId)
      throw new StoreError(`putSuccess takes a plain step's SUCCEEDED result and its StepSucceeded`);
    return this.put(taskId, result, foldedSucceeded(event));
  }

  private async put(taskId: string, result: StepResult, event: Item = {}): Promise<boolean> {
    try {
      await this.t.ddb.send(
        new PutCommand({
          TableName: this.t.name,
          Item: { pk: pk(taskId), sk: `RESULT#${result.stepId}`, ...withJsonOutput(result), ...event },
          ConditionExpression:
            'attribute_not_exists(pk) OR (#run < :run AND (#status <> :ok OR #items.#failed > :zero))',
          ExpressionAttributeNames: {
            '#run': 'run',
            '#status': 'status',
            '#items': 'items',
            '#failed': 'failed',
          },
          ExpressionAttributeValues: { ':run': result.run, ':ok': 'SUCCEEDED', ':zero': 0 },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not record the result of step ${result.stepId}`, { cause: err });
    }
  }

  async getResults(taskId: string, stepIds?: readonly string[]): Promise<Map<string, StepResult>> {
    const items = stepIds
      ? await this.t.getMany([...new Set(stepIds)].map((id) => resultKey(taskId, id)))
      : await this.t.queryPrefix(pk(taskId), 'RESULT#');
    return new Map(items.map((i) => [i.stepId as string, fromItem(i) as StepResult]));
  }
}
