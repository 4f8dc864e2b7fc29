/**
 * The state store's contract: what every implementation of the ports in `lambdas/core/ports.ts`
 * does, the DynamoDB adapters (on dynalite) and the in-memory fake of the unit tests alike.
 * `test/contract/store.test.ts` runs it against each; a fake that drifts from the real store
 * fails here, not in a use case's test.
 *
 * `makeStore` returns an empty store for every test (listings are global).
 */
import { describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../lambdas/adapters/store.js';
import type { ApprovalDecision } from '../../lambdas/core/approvals.js';
import {
  type EventData,
  Events,
  type NewEvent,
  type NewEventOf,
  recordedEvent,
} from '../../lambdas/core/events.js';
import type {
  ApprovalItem,
  DeadLetterRecord,
  StepResult,
  StoredArtifact,
  StoredTask,
  StorePorts,
} from '../../lambdas/core/ports.js';
import { SUBMITTED_SEQ } from '../../lambdas/core/ports.js';
import type { Json, Plan, TaskStatus } from '../../lambdas/core/schemas.js';

const task = (taskId: string, createdAt = '2030-01-01T00:00:00.000Z'): StoredTask => ({
  taskId,
  goal: `goal of ${taskId}`,
  createdAt,
  traceId: `trace-${taskId}`,
  status: 'QUEUED',
  updatedAt: createdAt,
  policy: { allowDegraded: true },
  run: 1,
  requestHash: `hash-${taskId}`,
});

const plan = (agent: string): Plan => ({
  steps: [
    {
      id: 'a',
      agent,
      input: { n: 1 },
      dependsOn: [],
      timeoutSeconds: 60,
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 },
      approval: 'none',
      optional: false,
    },
  ],
  source: 'explicit',
});

const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;

const approval = (over: Partial<ApprovalItem> = {}): ApprovalItem & { taskToken: string } => ({
  id: 'AbCdEfGhIjKlMnOpQrStU1',
  taskId: 't1',
  stepId: 'a',
  kind: 'step',
  status: 'PENDING',
  requestedAt: at(1),
  expiresAt: at(59),
  run: 1,
  round: 1,
  timeoutSeconds: 58,
  onTimeout: 'reject',
  taskToken: 'token-1',
  ...over,
});

const decision: ApprovalDecision = { decision: 'approve', approver: 'Ada', via: 'api', at: at(2) };

const deadLetter = (taskId: string, run: number, second: number): DeadLetterRecord => ({
  taskId,
  run,
  goal: `goal of ${taskId}`,
  status: 'OPEN',
  at: at(second),
  error: { name: 'Baton.StepFailed', message: 'a failed' },
  failedSteps: [{ stepId: 'a', status: 'FAILED', error: { name: 'Baton.AgentFailed', message: 'boom' } }],
  traceId: `trace-${taskId}`,
  links: { task: `/tasks/${taskId}`, events: `/tasks/${taskId}/events`, redrive: `/tasks/${taskId}/redrive` },
});

const artifact = (id: string): StoredArtifact => ({
  id,
  stepId: 'a',
  name: `${id}.md`,
  contentType: 'text/markdown',
  size: 3,
  sha256: 'f'.repeat(64),
  s3Key: `tasks/t1/steps/a/1/${id}.md`,
  attempt: 1,
});

export function describeStoreContract(name: string, makeStore: () => Promise<StorePorts>): void {
  describe(`store contract: ${name}`, () => {
    describe('tasks', () => {
      it('creates a task once: a repeated create keeps the first values', async () => {
        // Prepare
        const store = await makeStore();
        const first = task('t1');
        // Act
        await store.createTask(first, { documents: ['x'] });
        await store.createTask({ ...first, goal: 'another goal' }, { documents: ['y'] });
        // Assess
        expect(await store.getTask('t1')).toEqual(first);
        expect(await store.getInputs('t1')).toEqual({ documents: ['x'] });
        expect(await store.getTask('nope')).toBeUndefined();
        expect(await store.getInputs('nope')).toEqual({});
      });

      it("starts the task's sequence with its first event's number taken: TaskSubmitted is written with it, unreserved", async () => {
        // Prepare
        const store = await makeStore();
        const submitted = Events.taskSubmitted(
          { taskId: 't1', traceId: 'tr', run: 1 },
          { goal: 'g', explicitPlan: false },
        );
        // Act: the event beside the task's items (as POST /tasks writes them), then the next one
        await Promise.all([
          store.createTask(task('t1'), {}),
          store.appendEvents([submitted], { firstSeq: SUBMITTED_SEQ }),
        ]);
        const next = await store.reserveSeqs('t1', 1);
        const again = await store.appendEvents([submitted], { firstSeq: SUBMITTED_SEQ });
        // Assess
        expect((await store.allEvents('t1')).map((e) => [e.type, e.seq])).toEqual([
          ['TaskSubmitted', SUBMITTED_SEQ],
        ]);
        expect(next.first).toBe(SUBMITTED_SEQ + 1);
        expect(again).toEqual([undefined]);
        expect((await store.getTask('t1'))?.status).toBe('QUEUED');
      });

      it('keeps the first plan and returns it to a later writer', async () => {
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        expect(await store.getPlan('t1')).toBeUndefined();
        expect(await store.putPlan('t1', plan('echo'))).toEqual(plan('echo'));
        expect(await store.putPlan('t1', plan('other'))).toEqual(plan('echo'));
        expect(await store.getPlan('t1')).toEqual(plan('echo'));
      });

      it('reads a task record and its plan together, each absent when it is', async () => {
        // Prepare: t1 planned, t2 not yet, t3 does not exist
        const store = await makeStore();
        await store.createTask(task('t1'), {}, plan('echo'));
        await store.createTask(task('t2'), {});
        // Act
        const planned = await store.getTaskAndPlan('t1');
        const again = await store.getTaskAndPlan('t1');
        const unplanned = await store.getTaskAndPlan('t2');
        const missing = await store.getTaskAndPlan('t3');
        // Assess
        expect(planned).toEqual({ task: task('t1'), plan: plan('echo') });
        expect(again).toEqual(planned);
        expect(unplanned).toEqual({ task: task('t2') });
        expect(missing).toEqual({});
      });

      it('creates a task with its explicit plan, keeping the first plan on a repeated create', async () => {
        // Prepare
        const store = await makeStore();
        // Act
        await store.createTask(task('t1'), {}, plan('echo'));
        await store.createTask(task('t1'), {}, plan('other'));
        // Assess
        expect(await store.getTask('t1')).toEqual(task('t1'));
        expect(await store.getPlan('t1')).toEqual(plan('echo'));
      });

      it('moves a task to a later run only, once', async () => {
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const moves = [
          await store.setRun('t1', 2),
          await store.setRun('t1', 2),
          await store.setRun('t1', 1),
          await store.setRun('nope', 2),
        ];
        expect(moves).toEqual([true, false, false, false]);
        expect((await store.getTask('t1'))?.run).toBe(2);
      });

      it('lists tasks newest first, by status, page by page with opaque cursors', async () => {
        // Prepare: five tasks, three of them RUNNING
        const store = await makeStore();
        for (const [i, id] of ['t1', 't2', 't3', 't4', 't5'].entries()) {
          await store.createTask(task(id, at(i + 1)), {});
          if (id !== 't2' && id !== 't4')
            await store.appendEvent({
              id: 'PlanCreated',
              type: 'PlanCreated',
              taskId: id,
              traceId: 'tr',
              data: { source: 'explicit', steps: [] },
            });
        }
        // Act
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listTasks({ status: 'RUNNING', limit: 2, ...(cursor ? { cursor } : {}) });
          pages.push(page.tasks.map((t) => t.taskId));
          cursor = page.next;
        } while (cursor);
        const all = await store.listTasks({ limit: 10 });
        // Assess
        expect(pages.flat()).toEqual(['t5', 't3', 't1']);
        expect(pages[0]).toEqual(['t5', 't3']);
        expect(all.tasks.map((t) => [t.taskId, t.status])).toEqual([
          ['t5', 'RUNNING'],
          ['t4', 'QUEUED'],
          ['t3', 'RUNNING'],
          ['t2', 'QUEUED'],
          ['t1', 'RUNNING'],
        ]);
        expect(all.next).toBeUndefined();
        expect(all.tasks[0]).toEqual({
          taskId: 't5',
          goal: 'goal of t5',
          status: 'RUNNING',
          createdAt: at(5),
          updatedAt: expect.any(String),
        });
        await expect(store.listTasks({ limit: 1, cursor: '%%%' })).rejects.toBeInstanceOf(InvalidCursorError);
      });
    });

    describe('events', () => {
      /** Valid data of each event type the suite writes (the store checks events on read). */
      const approval = { approvalId: 'ap1', kind: 'step', round: 1 } as const;
      const sample: { [T in SampleType]: EventData<T> } = {
        TaskSubmitted: { goal: 'g', explicitPlan: true },
        PlanCreated: { source: 'explicit', steps: [{ id: 'a', agent: 'echo', dependsOn: [] }] },
        StepStarted: { attempt: 1, agent: 'echo', run: 1 },
        StepSucceeded: { attempt: 1, agent: 'echo', summary: 'done', artifacts: [] },
        TaskFailed: { error: { name: 'Baton.TaskFailed', message: 'failed' } },
        TaskCancelled: { run: 1, previousStatus: 'RUNNING' },
        ApprovalRequested: {
          ...approval,
          escalation: false,
          requestedAt: at(1),
          expiresAt: at(2),
          timeoutSeconds: 60,
          onTimeout: 'reject',
        },
        ApprovalDecided: { ...approval, decision: 'approve', approver: 'Ada', via: 'api', at: at(2) },
        FanOutItemFailed: { index: 7, attempts: 2, error: { name: 'Baton.AgentFailed', message: 'no' } },
      };
      type SampleType =
        | 'TaskSubmitted'
        | 'PlanCreated'
        | 'StepStarted'
        | 'StepSucceeded'
        | 'TaskFailed'
        | 'TaskCancelled'
        | 'ApprovalRequested'
        | 'ApprovalDecided'
        | 'FanOutItemFailed';
      const event = <T extends SampleType>(
        id: string,
        type: T,
        extra: { stepId?: string; at?: string; item?: number } = {},
      ): NewEventOf<T> => ({ id, type, taskId: 't1', traceId: 'tr', data: sample[type], ...extra });

      it("pages item events with the trail and leaves them out of the task's own events", async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.appendEvent(event('e1', 'StepStarted', { stepId: 'a' }));
        const item = await store.appendEvent(event('e2', 'FanOutItemFailed', { stepId: 'a', item: 7 }));
        await store.appendEvent(event('e3', 'StepSucceeded', { stepId: 'a' }));
        // Act
        const page = await store.listEvents('t1', { limit: 10 });
        const own = await store.allEvents('t1');
        // Assess
        expect(item?.item).toBe(7);
        expect(page.events.map((e) => e.id)).toEqual(['e1', 'e2', 'e3']);
        expect(page.events[1]).toEqual(item);
        expect(own.map((e) => e.id)).toEqual(['e1', 'e3']);
        expect(
          await store.appendEvent(event('e2', 'FanOutItemFailed', { stepId: 'a', item: 7 })),
        ).toBeUndefined();
      });

      it('appends events with a strictly increasing seq and ignores a duplicate id', async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        // Act
        const a = await store.appendEvent(event('e1', 'TaskSubmitted', { at: at(1) }));
        const dup = await store.appendEvent(event('e1', 'TaskSubmitted', { at: at(9) }));
        const b = await store.appendEvent(event('e2', 'StepStarted', { stepId: 'a' }));
        const c = await store.appendEvent(event('e3', 'StepSucceeded', { stepId: 'a' }));
        // Assess
        expect(dup).toBeUndefined();
        expect(a).toEqual({
          id: 'e1',
          seq: expect.any(Number),
          at: at(1),
          type: 'TaskSubmitted',
          taskId: 't1',
          traceId: 'tr',
          data: { goal: 'g', explicitPlan: true },
        });
        const seqs = [a?.seq ?? 0, b?.seq ?? 0, c?.seq ?? 0];
        expect(seqs[0]).toBeGreaterThan(0);
        expect(seqs[1]).toBeGreaterThan(seqs[0] ?? 0);
        expect(seqs[2]).toBeGreaterThan(seqs[1] ?? 0);
        expect(b?.stepId).toBe('a');
        expect(b?.at).toMatch(/^\d{4}-\d\d-\d\dT/);
        const all = await store.allEvents('t1');
        expect(all).toEqual([a, b, c]);
      });

      it('pages events in seq order from `after`', async () => {
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        for (const id of ['e1', 'e2', 'e3'])
          await store.appendEvent(event(id, 'StepStarted', { stepId: id }));
        const first = await store.listEvents('t1', { limit: 2 });
        const second = await store.listEvents('t1', { after: first.next ?? -1, limit: 2 });
        expect(first.events.map((e) => e.id)).toEqual(['e1', 'e2']);
        expect(first.next).toBe(first.events[1]?.seq);
        expect(second.events.map((e) => e.id)).toEqual(['e3']);
        expect(second.next).toBeUndefined();
        expect(await store.allEvents('nope')).toEqual([]);
      });

      it('appends several events with one reservation, in order, dropping a duplicate', async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const before = await store.appendEvent(event('e0', 'TaskSubmitted'));
        // Act
        const written = await store.appendEvents([
          event('e1', 'StepStarted', { stepId: 'a' }),
          event('e0', 'TaskSubmitted'),
          event('e2', 'StepSucceeded', { stepId: 'a' }),
        ]);
        // Assess
        expect(written.map((e) => e?.id)).toEqual(['e1', undefined, 'e2']);
        const seqs = written.flatMap((e) => (e ? [e.seq] : []));
        expect(seqs[0]).toBeGreaterThan(before?.seq ?? 0);
        expect(seqs[1]).toBeGreaterThan(seqs[0] ?? 0);
        expect((await store.allEvents('t1')).map((e) => e.id)).toEqual(['e0', 'e1', 'e2']);
        expect(await store.appendEvents([])).toEqual([]);
      });

      it('writes events with numbers reserved before, in their place in the trail, once', async () => {
        // Prepare: numbers reserved, then an event appended the usual way
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const { first } = await store.reserveSeqs('t1', 2);
        const later = await store.appendEvent(event('e3', 'StepStarted', { stepId: 'b' }));
        // Act: the reserved ones written after it, twice (a completion done again)
        const reserved: NewEvent[] = [
          event('e1', 'StepStarted', { stepId: 'a' }),
          event('e2', 'StepSucceeded', { stepId: 'a' }),
        ];
        const written = await store.appendEvents(reserved, { firstSeq: first });
        const again = await store.appendEvents(reserved, { firstSeq: first });
        // Assess
        expect(written.map((e) => e?.seq)).toEqual([first, first + 1]);
        expect(later?.seq).toBeGreaterThan(first + 1);
        expect(again).toEqual([undefined, undefined]);
        expect((await store.allEvents('t1')).map((e) => e.id)).toEqual(['e1', 'e2', 'e3']);
        const page = await store.listEvents('t1', { after: first, limit: 10 });
        expect(page.events.map((e) => e.id)).toEqual(['e2', 'e3']);
      });

      it('reads the events of one id prefix, in seq order, without the rest of the trail', async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        for (const id of [
          'r1.StepStarted.a.1',
          'r1.StepStarted.b.1',
          'r1.StepStarted.a.1.rerun1',
          'r1.StepStarted.a.10',
        ])
          await store.appendEvent(event(id, 'StepStarted', { stepId: 'a' }));
        // Act
        const got = await store.eventsWithIdPrefix('t1', 'r1.StepStarted.a.1');
        // Assess: a prefix match (the caller tells .1 from .10 by the attempt)
        expect(got.map((e) => e.id)).toEqual([
          'r1.StepStarted.a.1',
          'r1.StepStarted.a.1.rerun1',
          'r1.StepStarted.a.10',
        ]);
        expect(await store.eventsWithIdPrefix('t1', 'r2.')).toEqual([]);
      });

      it('projects the task status, AWAITING_APPROVAL while any approval is pending', async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const statusAfter = async (e: NewEvent): Promise<TaskStatus | undefined> => {
          await store.appendEvent(e);
          return (await store.getTask('t1'))?.status;
        };
        // Act
        const statuses = [
          await statusAfter(event('e1', 'TaskSubmitted')),
          await statusAfter(event('e2', 'PlanCreated')),
          await statusAfter(event('e3', 'ApprovalRequested', { stepId: 'a' })),
          await statusAfter(event('e4', 'ApprovalRequested', { stepId: 'b' })),
          await statusAfter(event('e5', 'ApprovalDecided', { stepId: 'a' })),
          await statusAfter(event('e5', 'ApprovalDecided', { stepId: 'a' })),
          await statusAfter(event('e6', 'ApprovalDecided', { stepId: 'b', at: at(30) })),
        ];
        const awaiting = await store.listTasks({ status: 'AWAITING_APPROVAL', limit: 10 });
        // Assess: the repeated decision (a duplicate event) changes nothing
        expect(statuses).toEqual([
          'QUEUED',
          'RUNNING',
          'AWAITING_APPROVAL',
          'AWAITING_APPROVAL',
          'AWAITING_APPROVAL',
          'AWAITING_APPROVAL',
          'RUNNING',
        ]);
        expect(awaiting.tasks).toEqual([]);
        // getTask returns the task, not the projection's bookkeeping
        expect(await store.getTask('t1')).toEqual({ ...task('t1'), status: 'RUNNING', updatedAt: at(30) });
      });

      it('lists a waiting task under AWAITING_APPROVAL and leaves ended tasks alone', async () => {
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.appendEvent(event('e1', 'PlanCreated'));
        await store.appendEvent(event('e2', 'ApprovalRequested', { stepId: 'a' }));
        const waiting = await store.listTasks({ status: 'AWAITING_APPROVAL', limit: 10 });
        await store.appendEvent(event('e3', 'TaskCancelled'));
        await store.appendEvent(event('e4', 'ApprovalRequested', { stepId: 'b' }));
        await store.appendEvent(event('e5', 'ApprovalDecided', { stepId: 'a' }));
        expect(waiting.tasks.map((t) => t.taskId)).toEqual(['t1']);
        expect((await store.getTask('t1'))?.status).toBe('CANCELLED');
        expect(
          (await store.listTasks({ status: 'CANCELLED', limit: 10 })).tasks.map((t) => t.taskId),
        ).toEqual(['t1']);
      });

      it('starts a new run with no pending approvals', async () => {
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.appendEvent(event('e1', 'PlanCreated'));
        await store.appendEvent(event('e2', 'ApprovalRequested', { stepId: 'a' }));
        await store.appendEvent(event('e3', 'TaskFailed'));
        await store.setRun('t1', 2);
        await store.appendEvent(event('r2.e1', 'PlanCreated'));
        await store.appendEvent(event('r2.e2', 'ApprovalRequested', { stepId: 'a' }));
        await store.appendEvent(event('r2.e3', 'ApprovalDecided', { stepId: 'a' }));
        expect((await store.getTask('t1'))?.status).toBe('RUNNING');
      });
    });

    describe('step results and succeeded attempts', () => {
      const result = (run: number, status: StepResult['status']): StepResult => ({
        stepId: 'a',
        run,
        status,
        attempt: 1,
        agent: 'echo',
        summary: `${status} in run ${run}`,
        output: { run },
        at: at(run),
      });

      it('replaces a failed result by a later run only, and keeps a success for good', async () => {
        // Prepare
        const store = await makeStore();
        // Act
        const writes = [
          await store.putResult('t1', result(1, 'FAILED')),
          await store.putResult('t1', result(1, 'SUCCEEDED')),
          await store.putResult('t1', result(2, 'SUCCEEDED')),
          await store.putResult('t1', result(3, 'FAILED')),
          await store.putResult('t1', { stepId: 'b', run: 1, status: 'SKIPPED', at: at(1) }),
        ];
        // Assess
        expect(writes).toEqual([true, false, true, false, true]);
        const results = await store.getResults('t1');
        expect([...results.keys()]).toEqual(['a', 'b']);
        expect(results.get('a')).toEqual(result(2, 'SUCCEEDED'));
        expect(results.get('b')).toEqual({ stepId: 'b', run: 1, status: 'SKIPPED', at: at(1) });
        expect((await store.getResults('nope')).size).toBe(0);
        // only the steps asked for (a missing one is absent)
        const some = await store.getResults('t1', ['b', 'zz']);
        expect([...some.keys()]).toEqual(['b']);
        expect((await store.getResults('t1', [])).size).toBe(0);
      });

      it("lets a later run replace a fan-out step's success that left items failed, and nothing else", async () => {
        // Prepare
        const store = await makeStore();
        const partial = {
          ...result(1, 'SUCCEEDED'),
          items: { total: 10, succeeded: 9, failed: 1, failedIndexes: [3] },
        };
        const whole = { ...result(2, 'SUCCEEDED'), items: { total: 10, succeeded: 10, failed: 0 } };
        // Act
        const writes = [
          await store.putResult('t1', partial),
          await store.putResult('t1', { ...partial, summary: 'again' }),
          await store.putResult('t1', whole),
          await store.putResult('t1', { ...whole, run: 3 }),
        ];
        // Assess
        expect(writes).toEqual([true, false, true, false]);
        expect((await store.getResults('t1')).get('a')).toEqual(whole);
      });

      it("reads back what a step's succeeded attempt produced from its StepSucceeded, numbers included", async () => {
        // Prepare: numbers reserved for an ArtifactStored and the StepSucceeded, then both written
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const artifact = {
          id: 'a_1',
          stepId: 'a',
          name: 'out.md',
          contentType: 'text/markdown',
          size: 2,
          sha256: 'f'.repeat(64),
        };
        const scope = { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a' };
        const { first } = await store.reserveSeqs('t1', 2);
        await store.appendEvents(
          [
            Events.artifactStored(
              { ...scope, attempt: 2 },
              {
                artifactId: artifact.id,
                name: artifact.name,
                contentType: artifact.contentType,
                size: artifact.size,
                sha256: artifact.sha256,
              },
            ),
            Events.stepSucceeded(scope, {
              attempt: 2,
              agent: 'echo',
              summary: 'done',
              output: { ok: true },
              artifacts: [artifact],
            }),
          ],
          { firstSeq: first },
        );
        // Act
        const rec = await store.getSucceeded('t1', 1, 'a');
        // Assess
        expect(rec).toMatchObject({
          stepId: 'a',
          run: 1,
          attempt: 2,
          agent: 'echo',
          summary: 'done',
          output: { ok: true },
          artifacts: [artifact],
          firstSeq: first,
        });
        expect(await store.getSucceeded('t1', 2, 'a')).toBeUndefined();
        expect(await store.getSucceeded('t1', 1, 'b')).toBeUndefined();
      });

      it("writes a plain step's success at once: its result and its StepSucceeded, in the trail at its number, once", async () => {
        // Prepare: the numbers of an event before, the StepSucceeded, and one after
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const scope = { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a' };
        const { first } = await store.reserveSeqs('t1', 3);
        const own = { ...result(1, 'SUCCEEDED'), firstSeq: first + 1 };
        const succeeded = Events.stepSucceeded(scope, {
          attempt: 1,
          agent: 'echo',
          summary: own.summary as string,
          output: { run: 1 },
          artifacts: [],
        });
        // Act
        await store.appendEvents(
          [Events.stepStarted({ ...scope, attempt: 1 }, { attempt: 1, agent: 'echo', run: 1 })],
          {
            firstSeq: first,
          },
        );
        const written = await store.putSuccess('t1', { result: own, event: succeeded, seq: first + 1 });
        await store.appendEvents([Events.stepWaiting({ ...scope, stepId: 'b' }, { waitingFor: [] })], {
          firstSeq: first + 2,
        });
        const again = await store.putSuccess('t1', {
          result: { ...own, summary: 'twice' },
          event: succeeded,
          seq: first + 5,
        });
        // Assess: the result as written; the event in its place in every reading of the trail
        expect([written, again]).toEqual([true, false]);
        expect((await store.getResults('t1', ['a'])).get('a')).toEqual(own);
        expect((await store.getResults('t1')).get('a')).toEqual(own);
        const page = await store.listEvents('t1', { limit: 10 });
        expect(page.events.map((e) => [e.seq, e.type])).toEqual([
          [first, 'StepStarted'],
          [first + 1, 'StepSucceeded'],
          [first + 2, 'StepWaiting'],
        ]);
        expect(page.events[1]).toEqual({
          ...recordedEvent(succeeded, first + 1, own.at),
        });
        expect((await store.allEvents('t1')).map((e) => e.seq)).toEqual([first, first + 1, first + 2]);
        expect((await store.listEvents('t1', { after: first, limit: 1 })).events[0]?.id).toBe(succeeded.id);
        expect((await store.eventsWithIdPrefix('t1', 'r1.StepSucceeded.')).map((e) => e.id)).toEqual([
          succeeded.id,
        ]);
        expect((await store.eventsWithIdPrefix('t1', 'r1.StepStarted.')).map((e) => e.type)).toEqual([
          'StepStarted',
        ]);
        // what the attempt produced, read back from it (the runner's look and a completion's redo)
        const attempt = { stepId: 'a', run: 1, attempt: 1, summary: own.summary, output: { run: 1 } };
        expect(await store.getSucceeded('t1', 1, 'a')).toMatchObject({ ...attempt, firstSeq: first + 1 });
        expect(await store.getSucceeded('t1', 2, 'a')).toBeUndefined();
        const look = await store.getStepContext('t1', ['a'], { run: 1, stepId: 'a' });
        expect(look.succeeded).toMatchObject(attempt);
        expect(look.results.get('a')).toEqual(own);
      });

      it("refuses to write a fan-out step's success at once (a redrive can replace it)", async () => {
        // Prepare
        const store = await makeStore();
        const partial = { ...result(1, 'SUCCEEDED'), items: { total: 2, succeeded: 1, failed: 1 } };
        const event = Events.stepSucceeded(
          { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a' },
          { attempt: 1, agent: 'echo', summary: 's', artifacts: [] },
        );
        // Act / Assess
        await expect(store.putSuccess('t1', { result: partial, event, seq: 1 })).rejects.toThrow(
          /plain step/,
        );
        expect((await store.getResults('t1')).size).toBe(0);
      });

      it("reads a step runner's first look in one read: task, inputs, results and the step's success", async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), { brief: 'text' });
        await store.putResult('t1', {
          stepId: 'a',
          run: 1,
          status: 'SUCCEEDED',
          agent: 'echo',
          summary: 'A',
          artifacts: [],
          at: at(1),
        });
        await store.appendEvent(
          Events.stepSucceeded(
            { taskId: 't1', traceId: 'tr', run: 1, stepId: 'b' },
            { attempt: 1, agent: 'echo', summary: 'B', artifacts: [] },
          ),
        );
        // Act
        const both = await store.getStepContext('t1', ['b', 'a'], { run: 1, stepId: 'b' });
        const later = await store.getStepContext('t1', ['b'], { run: 2, stepId: 'b' });
        const none = await store.getStepContext('t2', ['b'], { run: 1, stepId: 'b' });
        // Assess
        expect(both.task?.taskId).toBe('t1');
        expect(both.inputs).toEqual({ brief: 'text' });
        expect([...both.results.keys()]).toEqual(['a']);
        expect(both.results.get('a')?.summary).toBe('A');
        expect(both.succeeded).toMatchObject({ stepId: 'b', run: 1, attempt: 1, summary: 'B' });
        expect(later.succeeded).toBeUndefined();
        expect(later.inputs).toEqual({ brief: 'text' });
        expect(none.task).toBeUndefined();
        expect(none.inputs).toEqual({});
        expect(none.results.size).toBe(0);
      });

      it('the step context also reads the tokens of the gates asked for, of its run', async () => {
        // Prepare: c parked in run 1 (with routes), d parked in run 2 only
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.putToken('t1', 1, 'c', 'token-c', true);
        await store.putToken('t1', 2, 'd', 'token-d');
        // Act
        const ctx = await store.getStepContext('t1', ['a'], { run: 1, stepId: 'a', gates: ['c', 'd', 'c'] });
        const plain = await store.getStepContext('t1', ['a'], { run: 1, stepId: 'a' });
        const later = await store.getStepContext('t1', ['a'], { run: 2, stepId: 'a', gates: ['c', 'd'] });
        // Assess
        expect([...ctx.gates]).toEqual([['c', { token: 'token-c', routes: true }]]);
        expect(ctx.task?.taskId).toBe('t1');
        expect(plain.gates.size).toBe(0);
        expect([...later.gates]).toEqual([['d', { token: 'token-d', routes: false }]]);
      });

      it('the step context reads what a carried StepStarted number is checked against, when asked', async () => {
        // Prepare: b waited in run 1 and its attempt 1 started; nothing of run 2
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        const scope = { taskId: 't1', traceId: 'tr', run: 1, stepId: 'b' };
        const waiting = await store.appendEvent(Events.stepWaiting(scope, { waitingFor: ['a'] }));
        await store.appendEvent(
          Events.stepStarted({ ...scope, attempt: 1 }, { attempt: 1, agent: 'echo', run: 1 }),
        );
        // Act
        const first = await store.getStepContext('t1', ['b'], { run: 1, stepId: 'b', start: { attempt: 1 } });
        const second = await store.getStepContext('t1', ['b'], {
          run: 1,
          stepId: 'b',
          start: { attempt: 2 },
        });
        const third = await store.getStepContext('t1', ['b'], { run: 1, stepId: 'b', start: { attempt: 3 } });
        const nextRun = await store.getStepContext('t1', ['b'], {
          run: 2,
          stepId: 'b',
          start: { attempt: 2 },
        });
        const plain = await store.getStepContext('t1', ['b'], { run: 1, stepId: 'b' });
        // Assess
        expect(first.start).toEqual({ waitingSeq: waiting?.seq, earlierAttempt: false });
        expect(second.start).toEqual({ waitingSeq: waiting?.seq, earlierAttempt: true });
        expect(third.start).toEqual({ waitingSeq: waiting?.seq, earlierAttempt: false });
        expect(nextRun.start).toEqual({ earlierAttempt: false });
        expect(plain.start).toBeUndefined();
      });

      it('a reservation tells whether the task was cancelled: its TaskCancelled marks the sequence', async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.createTask(task('t2'), {});
        const before = await store.reserveSeqs('t1', 1);
        // Act
        await store.appendEvent(
          Events.taskCancelled(
            { taskId: 't1', traceId: 'tr', run: 1 },
            { run: 1, previousStatus: 'RUNNING' },
          ),
        );
        const after = await store.reserveSeqs('t1', 2);
        const other = await store.reserveSeqs('t2', 1);
        // Assess
        expect(before.cancelled).toBe(false);
        expect(after.cancelled).toBe(true);
        expect(after.first).toBeGreaterThan(before.first + 1);
        expect(other.cancelled).toBe(false);
      });
    });

    describe('user JSON', () => {
      /** JSON that a DynamoDB map cannot hold as sent: SDK-hostile keys and 40 levels of nesting. */
      const hostile = (): Json => {
        let deep: Json = { leaf: true };
        for (let i = 0; i < 40; i++) deep = { [`l${i}`]: deep };
        return {
          constructor: 'c',
          prototype: [1],
          toString: { valueOf: 'x' },
          hasOwnProperty: null,
          '': 'empty key',
          deep,
          list: [[[[[[{ constructor: { name: 'n' } }]]]]]],
        };
      };

      it('keeps inputs, step inputs, agent outputs and event data exactly as sent', async () => {
        // Prepare
        const store = await makeStore();
        const json = hostile();
        const withInput: Plan = {
          ...plan('echo'),
          steps: plan('echo').steps.map((st) => ({ ...st, input: { json } })),
        };
        // Act
        await store.createTask(task('t1'), { json });
        await store.putPlan('t1', withInput);
        await store.putResult('t1', { stepId: 'a', run: 1, status: 'SUCCEEDED', output: json, at: at(1) });
        await store.appendEvent(
          Events.stepSucceeded(
            { taskId: 't1', traceId: 'tr', run: 1, stepId: 'a' },
            { attempt: 1, agent: 'echo', summary: 's', output: json, artifacts: [] },
          ),
        );
        // Assess: JSON text round trips (a `__proto__` key never gets this far: lambdas/core/json.ts)
        const same = (v: unknown) => expect(JSON.stringify(v)).toBe(JSON.stringify(json));
        same((await store.getInputs('t1')).json);
        same((await store.getPlan('t1'))?.steps[0]?.input.json);
        same((await store.getResults('t1')).get('a')?.output);
        same((await store.getSucceeded('t1', 1, 'a'))?.output);
        const [event] = await store.allEvents('t1');
        if (event?.type !== 'StepSucceeded') throw new Error(`expected StepSucceeded, got ${event?.type}`);
        same(event.data.output);
      });
    });

    describe('task tokens (control plane)', () => {
      it('keeps the latest token of a parked step, per run', async () => {
        const store = await makeStore();
        await store.putToken('t1', 1, 'a', 'token-1');
        await store.putToken('t1', 1, 'a', 'token-2');
        await store.putToken('t1', 2, 'a', 'token-3');
        expect(await store.getToken('t1', 1, 'a')).toBe('token-2');
        expect(await store.getToken('t1', 2, 'a')).toBe('token-3');
        expect(await store.getToken('t1', 1, 'b')).toBeUndefined();
      });

      it("reads a gate's results and its token together", async () => {
        // Prepare
        const store = await makeStore();
        await store.createTask(task('t1'), {});
        await store.putResult('t1', {
          stepId: 'a',
          run: 1,
          status: 'SUCCEEDED',
          agent: 'echo',
          summary: 'A',
          artifacts: [],
          at: '2030-01-01T00:00:01.000Z',
        });
        await store.putToken('t1', 1, 'b', 'token-of-b');
        // Act
        const parked = await store.getResultsAndToken('t1', ['b', 'a'], { run: 1, stepId: 'b' });
        const notParked = await store.getResultsAndToken('t1', ['c', 'a'], { run: 1, stepId: 'c' });
        const otherRun = await store.getResultsAndToken('t1', ['b'], { run: 2, stepId: 'b' });
        // Assess
        expect([...parked.results.keys()]).toEqual(['a']);
        expect(parked.results.get('a')?.summary).toBe('A');
        expect(parked.token).toBe('token-of-b');
        expect(notParked.token).toBeUndefined();
        expect([...notParked.results.keys()]).toEqual(['a']);
        expect(otherRun).toEqual({ results: new Map() });
        expect(parked.routes).toBeUndefined();
      });

      it("keeps whether a parked gate takes routes with its token (its execution's definition)", async () => {
        // Prepare
        const store = await makeStore();
        await store.putToken('t1', 1, 'b', 'token-of-b', true);
        await store.putToken('t1', 1, 'c', 'token-of-c', true);
        await store.putToken('t1', 1, 'c', 'token-of-c-again');
        // Act
        const b = await store.getResultsAndToken('t1', ['b'], { run: 1, stepId: 'b' });
        const c = await store.getResultsAndToken('t1', ['c'], { run: 1, stepId: 'c' });
        // Assess: a replaced token keeps only what its own write says
        expect(b).toMatchObject({ token: 'token-of-b', routes: true });
        expect(c.token).toBe('token-of-c-again');
        expect(c.routes).toBeUndefined();
        expect(await store.getToken('t1', 1, 'b')).toBe('token-of-b');
      });
    });

    describe('approvals (control plane)', () => {
      it('creates the approval of a gate round once, findable by id and by gate', async () => {
        // Prepare
        const store = await makeStore();
        const first = approval();
        // Act
        const created = await store.createApproval(first);
        const again = await store.createApproval(
          approval({ id: 'AbCdEfGhIjKlMnOpQrStU2', taskToken: 'token-2' }),
        );
        const round2 = await store.createApproval(approval({ id: 'AbCdEfGhIjKlMnOpQrStU3', round: 2 }));
        // Assess
        expect(created).toEqual({ created: true, item: first });
        expect(again).toEqual({ created: false, item: first });
        expect(round2.created).toBe(true);
        expect(await store.getApproval(first.id)).toEqual(first);
        expect(await store.getApproval('AbCdEfGhIjKlMnOpQrStU2')).toBeUndefined();
        const latest = await store.latestApproval('t1', { run: 1, kind: 'step', stepId: 'a' });
        expect(latest?.id).toBe('AbCdEfGhIjKlMnOpQrStU3');
        expect(await store.latestApproval('t1', { run: 1, kind: 'step', stepId: 'b' })).toBeUndefined();
        expect(await store.latestApproval('t1', { run: 2, kind: 'step', stepId: 'a' })).toBeUndefined();
        expect((await store.listTaskApprovals('t1')).map((a) => a.round)).toEqual([1, 2]);
      });

      it('decides once: the winner gets the token, which leaves the item; the loser gets undefined', async () => {
        // Prepare
        const store = await makeStore();
        const { item } = await store.createApproval(approval());
        // Act
        const won = await store.transitionApproval(item, { status: 'DECIDED', decision });
        const lost = await store.transitionApproval(item, { status: 'EXPIRED', closedReason: 'late' });
        const retoken = await store.setApprovalToken(item, 'token-9');
        // Assess
        expect(won).toEqual({ token: 'token-1' });
        expect(lost).toBeUndefined();
        expect(retoken).toBe(false);
        const { taskToken: _dropped, ...rest } = approval();
        expect(await store.getApproval(item.id)).toEqual({ ...rest, status: 'DECIDED', decision });
      });

      it('hands a pending approval a new token, and a transition without a token answers {}', async () => {
        const store = await makeStore();
        const { item } = await store.createApproval(approval());
        expect(await store.setApprovalToken(item, 'token-2')).toBe(true);
        expect((await store.getApproval(item.id))?.taskToken).toBe('token-2');
        expect(await store.transitionApproval(item, { status: 'EXPIRED', escalated: true })).toEqual({
          token: 'token-2',
        });
        expect(await store.getApproval(item.id)).toMatchObject({ status: 'EXPIRED', escalated: true });
        expect(await store.setApprovalToken(approval({ round: 5 }), 'x')).toBe(false);
        expect(await store.transitionApproval(approval({ round: 5 }), { status: 'EXPIRED' })).toBeUndefined();
      });

      it('lists approvals by status, newest first, and moves them between listings', async () => {
        const store = await makeStore();
        const older = approval({ stepId: 'a', requestedAt: at(1) });
        const newer = approval({ id: 'AbCdEfGhIjKlMnOpQrStU2', stepId: 'b', requestedAt: at(2) });
        const other = approval({ id: 'AbCdEfGhIjKlMnOpQrStU3', taskId: 't2', requestedAt: at(3) });
        for (const a of [older, newer, other]) await store.createApproval(a);
        await store.transitionApproval(other, { status: 'DECIDED', decision });
        const pending = await store.listApprovals({ status: 'PENDING', limit: 10 });
        const decided = await store.listApprovals({ status: 'DECIDED', limit: 10 });
        expect(pending.map((a) => a.id)).toEqual([newer.id, older.id]);
        expect(decided.map((a) => [a.id, a.status])).toEqual([[other.id, 'DECIDED']]);
        expect((await store.listApprovals({ status: 'PENDING', limit: 1 })).map((a) => a.id)).toEqual([
          newer.id,
        ]);
      });

      it("closes a task's pending approvals and leaves decided ones as they are", async () => {
        const store = await makeStore();
        const decidedOne = approval({ stepId: 'a' });
        const pendingOne = approval({ id: 'AbCdEfGhIjKlMnOpQrStU2', stepId: 'b' });
        const elsewhere = approval({ id: 'AbCdEfGhIjKlMnOpQrStU3', taskId: 't2' });
        for (const a of [decidedOne, pendingOne, elsewhere]) await store.createApproval(a);
        await store.transitionApproval(decidedOne, { status: 'DECIDED', decision });
        await store.closePendingApprovals('t1', 'task cancelled');
        expect(
          (await store.listTaskApprovals('t1')).map((a) => [a.stepId, a.status, a.closedReason]),
        ).toEqual([
          ['a', 'DECIDED', undefined],
          ['b', 'EXPIRED', 'task cancelled'],
        ]);
        expect((await store.getApproval(pendingOne.id))?.taskToken).toBeUndefined();
        expect((await store.getApproval(elsewhere.id))?.status).toBe('PENDING');
      });
    });

    describe('dead letters', () => {
      it('records one dead letter per run and lists open ones newest first', async () => {
        // Prepare
        const store = await makeStore();
        // Act
        const writes = [
          await store.putDeadLetter(deadLetter('t1', 1, 1)),
          await store.putDeadLetter(deadLetter('t1', 1, 5)),
          await store.putDeadLetter(deadLetter('t2', 1, 2)),
          await store.putDeadLetter(deadLetter('t1', 2, 3)),
        ];
        await store.markDeadLetterRedriven('t1', 1, at(4));
        await store.markDeadLetterRedriven('t9', 1, at(4));
        // Assess
        expect(writes).toEqual([true, false, true, true]);
        const open = await store.listDeadLetters({ limit: 10 });
        expect(open.map((d) => [d.taskId, d.run])).toEqual([
          ['t1', 2],
          ['t2', 1],
        ]);
        expect(open[1]).toEqual(deadLetter('t2', 1, 2));
        const all = await store.listDeadLetters({ includeRedriven: true, limit: 2 });
        expect(all.map((d) => [d.taskId, d.run])).toEqual([
          ['t1', 2],
          ['t2', 1],
        ]);
        const everything = await store.listDeadLetters({ includeRedriven: true, limit: 10 });
        expect(everything[2]).toEqual({ ...deadLetter('t1', 1, 1), status: 'REDRIVEN', redrivenAt: at(4) });
      });
    });

    describe('artifacts', () => {
      it('records artifact metadata once per id and lists a task’s artifacts', async () => {
        const store = await makeStore();
        await store.putArtifact('t1', artifact('b'));
        await store.putArtifact('t1', artifact('a'));
        await store.putArtifact('t1', { ...artifact('a'), size: 99 });
        await store.putArtifact('t2', artifact('c'));
        expect(await store.listArtifacts('t1')).toEqual([artifact('a'), artifact('b')]);
        expect(await store.getArtifact('t1', 'a')).toEqual(artifact('a'));
        expect(await store.getArtifact('t1', 'c')).toBeUndefined();
        expect(await store.listArtifacts('nope')).toEqual([]);
      });

      it("reads several artifacts' records in one read, leaving out the ones that do not exist", async () => {
        const store = await makeStore();
        await store.putArtifact('t1', artifact('a'));
        await store.putArtifact('t1', artifact('b'));
        await store.putArtifact('t2', artifact('c'));
        const found = await store.getArtifacts('t1', ['b', 'a', 'c', 'a']);
        expect(new Map([...found].sort())).toEqual(
          new Map([
            ['a', artifact('a')],
            ['b', artifact('b')],
          ]),
        );
        expect((await store.getArtifacts('t1', [])).size).toBe(0);
      });
    });

    describe('idempotency keys (control plane)', () => {
      it('gives a key to the first task that claims it and tells later claimants who owns it', async () => {
        const store = await makeStore();
        const now = '2030-01-01T00:00:00.000Z';
        const first = await store.claimIdempotencyKey('k1', 't1', 'h1', now);
        const second = await store.claimIdempotencyKey('k1', 't2', 'h2', now);
        const other = await store.claimIdempotencyKey('k2', 't3', 'h3', now);
        expect(first).toEqual({ taskId: 't1', requestHash: 'h1', fresh: true });
        expect(second).toEqual({ taskId: 't1', requestHash: 'h1', fresh: false });
        expect(other).toEqual({ taskId: 't3', requestHash: 'h3', fresh: true });
      });
    });
  });
}
