/**
 * Step outcomes in the task partition `TASK#<id>`:
 *   RESULT#<stepId>   the step's outcome (what dependents and finalize read); a SUCCEEDED one is
 *                     final across runs (unless it is a fan-out step's with failed items,
 *                     `items.failed > 0`: a redrive re-runs them)
 * (the agent's `output` as JSON text in `outputJson`, table.ts jsonAttr). What an attempt produced
 * before its step completes is not stored apart: store.ts reads it back from its StepSucceeded.
 */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ResultPort, StepResult } from '../../core/ports.js';
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

const fromItem = (item: Item): Item => readJsonAttrs(strip(item), ['output']);

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

  async putResult(taskId: string, result: StepResult): Promise<boolean> {
    try {
      await this.t.ddb.send(
        new PutCommand({
          TableName: this.t.name,
          Item: { pk: pk(taskId), sk: `RESULT#${result.stepId}`, ...withJsonOutput(result) },
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
