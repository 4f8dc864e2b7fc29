/**
 * Control plane. The dependency gate's task tokens: `TOKEN#r<run>#<stepId>` in the task
 * partition `TASK#<id>` of the control table. Tokens never leave the backend.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TokenPort } from '../../core/ports.js';
import { DynamoTable, taskPk as pk } from './table.js';

const tokenSk = (run: number, stepId: string) => `TOKEN#r${run}#${stepId}`;

/** The key of a parked step's token item (read beside its results: store.ts getResultsAndToken). */
export const tokenKey = (taskId: string, run: number, stepId: string) => ({
  pk: pk(taskId),
  sk: tokenSk(run, stepId),
});

/** The token items alone; a gate's read of results and token together is the store's (store.ts). */
export class DynamoTokens implements Omit<TokenPort, 'getResultsAndToken'> {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, controlTable: string) {
    this.t = new DynamoTable(ddb, controlTable);
  }

  async putToken(
    taskId: string,
    run: number,
    stepId: string,
    token: string,
    routes?: boolean,
  ): Promise<void> {
    await this.t.ddb.send(
      new PutCommand({
        TableName: this.t.name,
        Item: {
          pk: pk(taskId),
          sk: tokenSk(run, stepId),
          token,
          ...(routes ? { routes: true } : {}),
          at: new Date().toISOString(),
        },
      }),
    );
  }

  /** Whether the token items `getToken` and the store read say their gate takes routes. */
  static routesOf(item: Record<string, unknown>): boolean {
    return item.routes === true;
  }

  async getToken(taskId: string, run: number, stepId: string): Promise<string | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({
        TableName: this.t.name,
        Key: tokenKey(taskId, run, stepId),
        ConsistentRead: true,
      }),
    );
    return res.Item?.token as string | undefined;
  }
}
