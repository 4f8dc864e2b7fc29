/**
 * Tasks in the task partition `TASK#<id>`:
 *   META      goal, trace id, policy, run, the status projection (written by events.ts) and the
 *             listing keys: `gsi1pk = STATUS#<status>` (byStatus), `gsi2pk = TASKS` (byCreated),
 *             both sorted by `<createdAt>#<taskId>`
 *   INPUTS    the request's inputs (JSON text, table.ts jsonAttr)
 *   PLAN      the validated plan (written once; JSON text)
 *   COUNTER   the event sequence, started here with number 1 taken (the TaskSubmitted's) and
 *             advanced by events.ts
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type StoredTask, SUBMITTED_SEQ, type TaskPage, type TaskPort } from '../../core/ports.js';
import type { Json, Plan, TaskStatus, TaskSummary } from '../../core/schemas.js';
import {
  DynamoTable,
  decodeCursor,
  encodeCursor,
  type Item,
  isConditionalFailure,
  jsonAttr,
  taskPk as pk,
  readJsonAttrs,
  StoreError,
  TABLE_INDEXES,
} from './table.js';

/** The keys of a task's record and inputs (store.ts reads them beside other items). */
export const metaKey = (taskId: string): Item => ({ pk: pk(taskId), sk: 'META' });
export const inputsKey = (taskId: string): Item => ({ pk: pk(taskId), sk: 'INPUTS' });

/** The task record a META item holds (its keys and projections dropped). */
export function taskOf(item: Item): StoredTask {
  const {
    pk: _p,
    sk: _s,
    gsi1pk: _g1,
    gsi1sk: _g1s,
    gsi2pk: _g2,
    gsi2sk: _g2s,
    statusSeq: _ss,
    pendingApprovals: _pa,
    ...rest
  } = item;
  return rest as StoredTask;
}

export const planKey = (taskId: string): Item => ({ pk: pk(taskId), sk: 'PLAN' });
export const planOf = (item: Item): Plan | undefined =>
  readJsonAttrs(item, ['plan']).plan as Plan | undefined;

export const inputsOf = (item: Item): Record<string, Json> =>
  (readJsonAttrs(item, ['inputs']).inputs as Record<string, Json>) ?? {};

export class DynamoTasks implements TaskPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  async createTask(task: StoredTask, inputs: Record<string, Json>, plan?: Plan): Promise<void> {
    // Independent of one another: side by side. META last: the task exists once all of it does.
    await Promise.all([
      this.t.putIfAbsent({ pk: pk(task.taskId), sk: 'INPUTS', ...jsonAttr('inputs', inputs) }),
      // Number SUBMITTED_SEQ is the TaskSubmitted's (the API writes it beside these).
      this.t.putIfAbsent({ pk: pk(task.taskId), sk: 'COUNTER', seq: SUBMITTED_SEQ }),
      plan ? this.putPlan(task.taskId, plan) : undefined,
    ]);
    await this.t.putIfAbsent({
      pk: pk(task.taskId),
      sk: 'META',
      ...task,
      gsi1pk: `STATUS#${task.status}`,
      gsi1sk: `${task.createdAt}#${task.taskId}`,
      gsi2pk: 'TASKS',
      gsi2sk: `${task.createdAt}#${task.taskId}`,
    });
  }

  async getTask(taskId: string): Promise<StoredTask | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({ TableName: this.t.name, Key: metaKey(taskId), ConsistentRead: true }),
    );
    return res.Item ? taskOf(res.Item) : undefined;
  }

  async getInputs(taskId: string): Promise<Record<string, Json>> {
    const res = await this.t.ddb.send(new GetCommand({ TableName: this.t.name, Key: inputsKey(taskId) }));
    return res.Item ? inputsOf(res.Item) : {};
  }

  async putPlan(taskId: string, plan: Plan): Promise<Plan> {
    const created = await this.t.putIfAbsent({ pk: pk(taskId), sk: 'PLAN', ...jsonAttr('plan', plan) });
    if (created) return plan;
    return (await this.getPlan(taskId)) as Plan;
  }

  async getPlan(taskId: string): Promise<Plan | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({ TableName: this.t.name, Key: planKey(taskId), ConsistentRead: true }),
    );
    return res.Item ? planOf(res.Item) : undefined;
  }

  async getTaskAndPlan(taskId: string): Promise<{ task?: StoredTask; plan?: Plan }> {
    const items = await this.t.getMany([metaKey(taskId), planKey(taskId)]);
    const out: { task?: StoredTask; plan?: Plan } = {};
    for (const item of items) {
      if (item.sk === 'META') out.task = taskOf(item);
      else {
        const plan = planOf(item);
        if (plan) out.plan = plan;
      }
    }
    return out;
  }

  async listTasks(opts: { status?: TaskStatus; limit: number; cursor?: string }): Promise<TaskPage> {
    const input: QueryCommandInput = opts.status
      ? {
          TableName: this.t.name,
          IndexName: TABLE_INDEXES.byStatus,
          KeyConditionExpression: 'gsi1pk = :p',
          ExpressionAttributeValues: { ':p': `STATUS#${opts.status}` },
        }
      : {
          TableName: this.t.name,
          IndexName: TABLE_INDEXES.byCreated,
          KeyConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': 'TASKS' },
        };
    const res = await this.t.ddb.send(
      new QueryCommand({
        ...input,
        ScanIndexForward: false,
        Limit: opts.limit,
        ExclusiveStartKey: opts.cursor
          ? decodeCursor(
              opts.cursor,
              opts.status
                ? { partition: { gsi1pk: `STATUS#${opts.status}` }, sortKey: 'gsi1sk' }
                : { partition: { gsi2pk: 'TASKS' }, sortKey: 'gsi2sk' },
            )
          : undefined,
      }),
    );
    const tasks: TaskSummary[] = (res.Items ?? []).map((i) => ({
      taskId: i.taskId,
      goal: i.goal,
      status: i.status,
      createdAt: i.createdAt,
      updatedAt: i.updatedAt,
    }));
    return { tasks, next: res.LastEvaluatedKey ? encodeCursor(res.LastEvaluatedKey) : undefined };
  }

  async setRun(taskId: string, run: number): Promise<boolean> {
    try {
      await this.t.ddb.send(
        new UpdateCommand({
          TableName: this.t.name,
          Key: { pk: pk(taskId), sk: 'META' },
          // A new run starts with no pending approvals (those of the old run died with it).
          UpdateExpression: 'SET #run = :run, pendingApprovals = :zero',
          ConditionExpression: '#run < :run',
          ExpressionAttributeNames: { '#run': 'run' },
          ExpressionAttributeValues: { ':run': run, ':zero': 0 },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalFailure(err)) return false;
      throw new StoreError(`Could not start run ${run} of task ${taskId}`, { cause: err });
    }
  }
}
