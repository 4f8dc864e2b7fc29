/**
 * Step outcomes in the task partition `TASK#<id>`:
 *   RESULT#<stepId>                  the step's outcome (what dependents and finalize read); a
 *                                    SUCCEEDED one is final across runs (unless it is a fan-out
 *                                    step's with failed items, `items.failed > 0`: a redrive re-runs them)
 *   ATTEMPT#r<run>#<stepId>#<n>      what an agent attempt produced, before the step completes
 * (the agent's `output` as JSON text in `outputJson`, table.ts jsonAttr)
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AttemptRecord, ResultPort, StepResult } from '../../core/ports.js';
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

const attemptSk = (run: number, stepId: string, attempt: number) => `ATTEMPT#r${run}#${stepId}#${attempt}`;

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

export class DynamoResults implements ResultPort {
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

  async putAttempt(taskId: string, rec: AttemptRecord): Promise<void> {
    await this.t.putIfAbsent({
      pk: pk(taskId),
      sk: attemptSk(rec.run, rec.stepId, rec.attempt),
      ...withJsonOutput(rec),
    });
  }

  async getAttempt(
    taskId: string,
    run: number,
    stepId: string,
    attempt: number,
  ): Promise<AttemptRecord | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({
        TableName: this.t.name,
        Key: { pk: pk(taskId), sk: attemptSk(run, stepId, attempt) },
        ConsistentRead: true,
      }),
    );
    return res.Item ? (fromItem(res.Item) as AttemptRecord) : undefined;
  }

  async getResultsAndAttempt(
    taskId: string,
    stepIds: readonly string[],
    a: { run: number; stepId: string; attempt: number },
  ): Promise<{ results: Map<string, StepResult>; attempt?: AttemptRecord }> {
    const attemptKey = attemptSk(a.run, a.stepId, a.attempt);
    const items = await this.t.getMany([
      ...[...new Set(stepIds)].map((id) => ({ pk: pk(taskId), sk: `RESULT#${id}` })),
      { pk: pk(taskId), sk: attemptKey },
    ]);
    const results = new Map<string, StepResult>();
    let attempt: AttemptRecord | undefined;
    for (const item of items) {
      if (item.sk === attemptKey) attempt = fromItem(item) as AttemptRecord;
      else results.set(item.stepId as string, fromItem(item) as StepResult);
    }
    return { results, ...(attempt ? { attempt } : {}) };
  }
}
