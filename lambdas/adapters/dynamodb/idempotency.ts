/**
 * Control plane. Idempotency keys of submissions: `IDEM#<key>` / `IDEM` in the control table,
 * with the owning task, the request's hash and a 24 h TTL (`expiresAt`, epoch seconds).
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { IdempotencyClaim, IdempotencyPort } from '../../core/ports.js';
import { DynamoTable, isConditionalFailure, StoreError } from './table.js';

export class DynamoIdempotency implements IdempotencyPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, controlTable: string) {
    this.t = new DynamoTable(ddb, controlTable);
  }

  async claimIdempotencyKey(
    key: string,
    taskId: string,
    requestHash: string,
    now: string,
  ): Promise<IdempotencyClaim> {
    try {
      await this.t.ddb.send(
        new PutCommand({
          TableName: this.t.name,
          Item: {
            pk: `IDEM#${key}`,
            sk: 'IDEM',
            taskId,
            requestHash,
            createdAt: now,
            // 24 h, as most idempotency-key APIs keep them (DynamoDB TTL attribute).
            expiresAt: Math.floor(Date.parse(now) / 1000) + 24 * 3600,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { taskId, requestHash, fresh: true };
    } catch (err) {
      if (!isConditionalFailure(err))
        throw new StoreError('Could not record the idempotency key', { cause: err });
      const existing = await this.t.ddb.send(
        new GetCommand({
          TableName: this.t.name,
          Key: { pk: `IDEM#${key}`, sk: 'IDEM' },
          ConsistentRead: true,
        }),
      );
      const item = existing.Item as { taskId: string; requestHash: string };
      return { taskId: item.taskId, requestHash: item.requestHash, fresh: false };
    }
  }
}
