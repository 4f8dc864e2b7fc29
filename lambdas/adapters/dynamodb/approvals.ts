/**
 * Control plane. Approval gates, in the control table:
 *   TASK#<id> / APPROVAL#r<run>#<kind>#<step|->#<attempt>#<round>
 *       the approval of a gate round: its record, decision and (while PENDING) the gate's task
 *       token; listed by status through the byStatus index (`gsi1pk = APPROVALS#<status>`,
 *       `gsi1sk = <requestedAt>#<id>`)
 *   APPROVAL#<approvalId> / APPROVAL
 *       the lookup by id (the id is what links carry)
 */
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ApprovalStatus } from '../../core/approvals.js';
import type { ApprovalGate, ApprovalItem, ApprovalPort, ApprovalTransition } from '../../core/ports.js';
import {
  DynamoTable,
  type Item,
  isConditionalFailure,
  taskPk as pk,
  StoreError,
  TABLE_INDEXES,
} from './table.js';

export function approvalGateKey(gate: ApprovalGate): string {
  return `r${gate.run}#${gate.kind}#${gate.stepId ?? '-'}#${gate.attempt ?? 0}`;
}
const approvalSk = (gate: ApprovalGate, round: number) => `APPROVAL#${approvalGateKey(gate)}#${round}`;
const approvalStatusKey = (status: ApprovalStatus) => `APPROVALS#${status}`;

export class DynamoApprovals implements ApprovalPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, controlTable: string) {
    this.t = new DynamoTable(ddb, controlTable);
  }

  async createApproval(
    item: ApprovalItem & { taskToken: string },
  ): Promise<{ created: boolean; item: ApprovalItem }> {
    const gate = { run: item.run, kind: item.kind, stepId: item.stepId, attempt: item.attempt };
    const sk = approvalSk(gate, item.round);
    const created = await this.t.putIfAbsent({
      pk: pk(item.taskId),
      sk,
      ...item,
      gsi1pk: approvalStatusKey(item.status),
      gsi1sk: `${item.requestedAt}#${item.id}`,
    });
    const stored = created ? item : await this.getApprovalAt(item.taskId, sk);
    if (!stored) throw new StoreError(`Approval ${sk} of task ${item.taskId} vanished`);
    await this.t.putIfAbsent({
      pk: `APPROVAL#${stored.id}`,
      sk: 'APPROVAL',
      approvalId: stored.id,
      taskId: stored.taskId,
      itemSk: sk,
    });
    return { created, item: stored };
  }

  async latestApproval(taskId: string, gate: ApprovalGate): Promise<ApprovalItem | undefined> {
    const items = await this.t.queryPrefix(pk(taskId), `APPROVAL#${approvalGateKey(gate)}#`);
    const rounds = items.map(toApprovalItem).sort((a, b) => a.round - b.round);
    return rounds.at(-1);
  }

  async listTaskApprovals(taskId: string): Promise<ApprovalItem[]> {
    return (await this.t.queryPrefix(pk(taskId), 'APPROVAL#')).map(toApprovalItem);
  }

  async getApproval(approvalId: string): Promise<ApprovalItem | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({
        TableName: this.t.name,
        Key: { pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' },
        ConsistentRead: true,
      }),
    );
    if (!res.Item) return undefined;
    return this.getApprovalAt(String(res.Item.taskId), String(res.Item.itemSk));
  }

  private async getApprovalAt(taskId: string, sk: string): Promise<ApprovalItem | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({ TableName: this.t.name, Key: { pk: pk(taskId), sk }, ConsistentRead: true }),
    );
    return res.Item ? toApprovalItem(res.Item) : undefined;
  }

  async setApprovalToken(item: ApprovalItem, token: string): Promise<boolean> {
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: pk(item.taskId), sk: approvalSk(item, item.round) },
          UpdateExpression: 'SET taskToken = :t',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':t': token, ':pending': 'PENDING' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not update approval ${item.id}`, { cause: err });
    }
  }

  /** Conditional on PENDING; the token leaves the item in the same write (ALL_OLD hands it back). */
  async transitionApproval(
    item: ApprovalItem,
    next: ApprovalTransition,
  ): Promise<{ token?: string } | undefined> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {
      ':s': next.status,
      ':g': approvalStatusKey(next.status),
      ':pending': 'PENDING',
    };
    const sets = ['#status = :s', 'gsi1pk = :g'];
    if (next.decision) {
      sets.push('decision = :d');
      values[':d'] = next.decision;
    }
    if (next.escalated !== undefined) {
      sets.push('escalated = :e');
      values[':e'] = next.escalated;
    }
    if (next.closedReason !== undefined) {
      sets.push('closedReason = :c');
      values[':c'] = next.closedReason;
    }
    try {
      const res = await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: pk(item.taskId), sk: approvalSk(item, item.round) },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE taskToken`,
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const token = res.Attributes?.taskToken;
      return typeof token === 'string' ? { token } : {};
    } catch (err) {
      if (isConditionalFailure(err)) return undefined;
      throw new StoreError(`Could not record the decision of approval ${item.id}`, { cause: err });
    }
  }

  /**
   * Closes the gates of a task that stopped waiting (cancelled, or its run ended): their links
   * answer 410 and they leave the PENDING listing. Their tokens are dropped.
   */
  async closePendingApprovals(taskId: string, reason: string): Promise<void> {
    for (const a of await this.listTaskApprovals(taskId)) {
      if (a.status === 'PENDING')
        await this.transitionApproval(a, { status: 'EXPIRED', closedReason: reason });
    }
  }

  /** Approvals by status, newest first. */
  async listApprovals(opts: { status: ApprovalStatus; limit: number }): Promise<ApprovalItem[]> {
    const res = await this.t.ddb.send(
      new QueryCommand({
        TableName: this.t.name,
        IndexName: TABLE_INDEXES.byStatus,
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': approvalStatusKey(opts.status) },
        ScanIndexForward: false,
        Limit: opts.limit,
      }),
    );
    return (res.Items ?? []).map(toApprovalItem);
  }
}

function toApprovalItem(item: Item): ApprovalItem {
  const { pk: _p, sk: _s, gsi1pk: _g, gsi1sk: _gs, ...rest } = item;
  return rest as ApprovalItem;
}
