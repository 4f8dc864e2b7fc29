/** Dead letters of failed runs: partition `DEADLETTERS`, one item `<taskId>#r<run>` per run. */
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeadLetterPort, DeadLetterRecord } from '../../core/ports.js';
import { DynamoTable, type Item, isConditionalFailure, StoreError, strip } from './table.js';

const PK = 'DEADLETTERS';
const deadLetterSk = (taskId: string, run: number) => `${taskId}#r${run}`;

export class DynamoDeadLetters implements DeadLetterPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  async putDeadLetter(rec: DeadLetterRecord): Promise<boolean> {
    return this.t.putIfAbsent({ pk: PK, sk: deadLetterSk(rec.taskId, rec.run), ...rec });
  }

  async listDeadLetters(opts: { includeRedriven?: boolean; limit: number }): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    let start: Item | undefined;
    do {
      const res = await this.t.ddb.send(
        new QueryCommand({
          TableName: this.t.name,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': PK },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []).map((i) => strip(i) as DeadLetterRecord));
      start = res.LastEvaluatedKey;
    } while (start);
    return out
      .filter((d) => opts.includeRedriven || d.status === 'OPEN')
      .sort((a, b) => (a.at < b.at ? 1 : -1))
      .slice(0, opts.limit);
  }

  async markDeadLetterRedriven(taskId: string, run: number, redrivenAt: string): Promise<void> {
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: PK, sk: deadLetterSk(taskId, run) },
          UpdateExpression: 'SET #status = :r, redrivenAt = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':r': 'REDRIVEN', ':at': redrivenAt },
        }),
      );
    } catch (err) {
      if (!isConditionalFailure(err))
        throw new StoreError('Could not mark the dead letter redriven', { cause: err });
    }
  }
}
