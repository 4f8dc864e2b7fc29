/**
 * A task with 50,000+ events (a fan-out step's item events) on dynalite: GET /tasks/{id}/events
 * pages by key (one Query of `limit` items per page, wherever the page is in the trail), and the
 * task view's own events (allEvents) leave the item events out, so neither loads the trail.
 */
import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskStore } from '../../lambdas/adapters/store.js';
import { Events, recordedEvent } from '../../lambdas/core/events.js';
import { storedTask } from '../fakes/tasks.js';
import { type ContractTables, contractTables } from './tables.js';

let tables: ContractTables;
beforeAll(async () => {
  tables = await contractTables('paging');
});
afterAll(async () => {
  await tables?.close();
});

const TASK = 't_paging';
const ITEMS = 50_000;

describe('events of a task with 50,000 item events', () => {
  it('pages in one Query per page wherever the page is, and the task view reads only its own events', async () => {
    // Prepare: a few task events, then 50,000 FanOutItemFailed item events written straight to the
    // table in batches (as the events adapter stores them: IEVT#<id>, seq on the LSI)
    const table = await tables.freshTable();
    const store = new TaskStore(tables.doc, table);
    await store.createTask(storedTask({ taskId: TASK, status: 'RUNNING' }), {});
    const scope = { taskId: TASK, traceId: 'tr', run: 1, stepId: 'each', attempt: 1 };
    await store.appendEvent(Events.stepStarted(scope, { attempt: 1, agent: 'echo', run: 1 }));
    const at = '2030-01-01T00:00:00.000Z';
    const error = { name: 'Baton.AgentFailed', message: 'no' };
    const items = Array.from({ length: ITEMS }, (_, index) => {
      const e = recordedEvent(
        Events.fanOutItemFailed({ ...scope, index }, { index, attempts: 1, error }),
        10 + index,
        at,
      );
      const { data, ...envelope } = e;
      return {
        pk: `TASK#${TASK}`,
        sk: `IEVT#${e.id}`,
        lsi1sk: `SEQ#${String(e.seq).padStart(12, '0')}`,
        ...envelope,
        dataJson: JSON.stringify(data),
      };
    });
    for (let i = 0; i < items.length; i += 25)
      await tables.doc.send(
        new BatchWriteCommand({
          RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
    // the task's sequence counter past them, as the adapter's reservations would have left it
    await tables.doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: `TASK#${TASK}`, sk: 'COUNTER' },
        UpdateExpression: 'SET seq = :n',
        ExpressionAttributeValues: { ':n': 10 + ITEMS },
      }),
    );
    await store.appendEvent({
      ...Events.stepSucceeded(scope, { attempt: 1, agent: 'echo', summary: 'ok', artifacts: [] }),
    });
    // count what each read sends to DynamoDB
    const sent: string[] = [];
    tables.doc.middlewareStack.add(
      (next, ctx) => async (args) => {
        sent.push(String(ctx.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    try {
      // Act
      const t0 = performance.now();
      const first = await store.listEvents(TASK, { limit: 100 });
      const t1 = performance.now();
      const deep = await store.listEvents(TASK, { after: 10 + ITEMS - 150, limit: 100 });
      const t2 = performance.now();
      const firstQueries = sent.splice(0).length;
      const own = await store.allEvents(TASK);
      const t3 = performance.now();
      const ownQueries = sent.splice(0).length;
      // Assess
      expect(first.events).toHaveLength(100);
      expect(first.events[0]?.type).toBe('StepStarted');
      expect(first.events[1]).toMatchObject({ type: 'FanOutItemFailed', item: 0 });
      expect(deep.events.map((e) => e.seq)).toEqual(
        Array.from({ length: 100 }, (_, i) => 10 + ITEMS - 149 + i),
      );
      expect(firstQueries).toBe(2);
      expect(own.map((e) => e.type)).toEqual(['StepStarted', 'StepSucceeded']);
      // its `EVT#` items and its results (a plain step's StepSucceeded is on its result), side by side
      expect(ownQueries).toBe(2);
      console.log(
        `[paging] ${ITEMS + 2} events: first page ${(t1 - t0).toFixed(0)} ms, page at ${ITEMS - 150} ${(t2 - t1).toFixed(0)} ms, the task's own events ${(t3 - t2).toFixed(0)} ms`,
      );
      // generous bounds on a shared machine: a page does not scan the trail
      expect(t2 - t1).toBeLessThan(2000);
    } finally {
      tables.doc.middlewareStack.remove('countCommands');
    }
  }, 600_000);
});
