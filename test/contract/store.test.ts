/**
 * The store contract (store.contract.ts) against each implementation of the ports: the DynamoDB
 * adapters on dynalite, in one table and with the control plane in a table of its own, and the
 * in-memory fake the unit tests use. Tables are created from the synthesized template, as the
 * local runtime creates them: same key schema, same indexes.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskStore } from '../../lambdas/adapters/store.js';
import type { NewEvent } from '../../lambdas/core/events.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { storedTask } from '../fakes/tasks.js';
import { describeStoreContract } from './store.contract.js';
import { type ContractTables, contractTables } from './tables.js';

let tables: ContractTables;
beforeAll(async () => {
  tables = await contractTables('contract');
});
afterAll(async () => {
  await tables?.close();
});
const freshTable = () => tables.freshTable();

describeStoreContract(
  'DynamoDB adapters (dynalite, one table)',
  async () => new TaskStore(tables.doc, await freshTable()),
);
describeStoreContract(
  'DynamoDB adapters (dynalite, control plane in its own table)',
  async () => new TaskStore(tables.doc, await freshTable(), await freshTable()),
);
describeStoreContract('in-memory fake', async () => new MemoryStore());

describe('DynamoDB events adapter after a write cut between the event and its projection', () => {
  it('projects the status again when the same event is written again', async () => {
    // Prepare: a TaskSucceeded stored, its status projection never written (the writer died)
    const name = await freshTable();
    const store = new TaskStore(tables.doc, name);
    const at = '2030-01-01T00:00:00.000Z';
    await store.createTask(storedTask({ createdAt: at, status: 'RUNNING' }), {});
    const succeeded: NewEvent = {
      id: 'r1.TaskSucceeded.-.-',
      type: 'TaskSucceeded',
      taskId: 't1',
      traceId: 'tr',
      data: {},
    };
    await tables.doc.send(
      new PutCommand({
        TableName: name,
        Item: {
          pk: 'TASK#t1',
          sk: `EVT#${succeeded.id}`,
          lsi1sk: 'SEQ#000000000007',
          seq: 7,
          at,
          ...succeeded,
          data: undefined,
          dataJson: '{}',
        },
      }),
    );
    expect((await store.getTask('t1'))?.status).toBe('RUNNING');

    // Act: the function runs again and writes the same fact
    const again = await store.appendEvent(succeeded);

    // Assess: no second event, and the task is listed SUCCEEDED now
    expect(again).toBeUndefined();
    expect((await store.getTask('t1'))?.status).toBe('SUCCEEDED');
    const listed = await store.listTasks({ status: 'SUCCEEDED', limit: 10 });
    expect(listed.tasks.map((t) => t.taskId)).toEqual(['t1']);
    expect((await store.listTasks({ status: 'RUNNING', limit: 10 })).tasks).toEqual([]);
  });
});
