/** Task API use cases: submit, read, list, events, artifacts. */

import type * as z from 'zod';
import type { ArtifactStore } from '../adapters/artifacts.js';
import type { IntakeQueue } from '../adapters/queue.js';
import type { WorkflowClient } from '../adapters/workflow.js';
import type { SigningSecrets } from '../core/approvals.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { Events } from '../core/events.js';
import { foldTask, isTerminal } from '../core/fold.js';
import { canonicalJson, newTaskId, newTraceId, sha256Hex } from '../core/ids.js';
import { validatePlan } from '../core/plan.js';
import type {
  ApprovalPort,
  ArtifactPort,
  DeadLetterPort,
  EventPort,
  FanOutPort,
  IdempotencyPort,
  ResultPort,
  StoredArtifact,
  StoredTask,
  TaskPort,
} from '../core/ports.js';
import { SUBMITTED_SEQ } from '../core/ports.js';
import {
  ArtifactRef,
  type CreateTaskBody,
  LIMITS,
  type ListEventsQuery,
  type ListTasksQuery,
  type TaskStatus,
  TaskSummary,
  type TaskView,
} from '../core/schemas.js';
import { settledEvents } from '../core/trail.js';
import { withFanOutProgress } from './fanout-progress.js';

export interface ApiDeps {
  /** The state store's ports the API uses (no task tokens: those are the orchestrator's). */
  store: TaskPort & EventPort & ResultPort & ArtifactPort & DeadLetterPort & ApprovalPort & IdempotencyPort;
  workflow: WorkflowClient;
  artifacts: ArtifactStore;
  queue: IntakeQueue;
  /** Fan-out steps' progress counters (the task view); none: the view shows ended fan-outs only. */
  counters?: FanOutPort;
  knownAgents: () => ReadonlySet<string>;
  /** Approval link-signing secrets (SSM in AWS, the data dir locally). */
  secrets: () => Promise<SigningSecrets>;
  /** Base URL of approval links (BATON_PUBLIC_URL); undefined: the request's own host. */
  publicUrl: () => string | undefined;
  log?: (line: Record<string, unknown>) => void;
  now?: () => Date;
  /** The request's X-Ray trace id: a new task's trace (default: a new trace id). */
  traceId?: () => string;
  /**
   * The task a mutating request works on (submit, cancel, redrive): the request's further log
   * lines carry its id, run and trace id.
   */
  inTask?: (scope: { taskId: string; run: number; traceId: string }) => void;
}

export function taskLinks(taskId: string) {
  return {
    self: `/tasks/${taskId}`,
    events: `/tasks/${taskId}/events`,
    artifacts: `/tasks/${taskId}/artifacts`,
  };
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Accepts a task: validates everything first (a rejected request writes nothing), records it,
 * then enqueues its start. A retried request with the same Idempotency-Key and body returns the
 * same task and re-sends the start (the execution name makes that harmless). The plan is written
 * before the task's META, which is what makes a task exist (listed, QUEUED): a task never exists
 * without its plan. If the process dies or SQS fails before the start is sent, the sweeper
 * (lambdas/orchestrator/sweep.ts) sends it later; a task that exists always runs.
 */
export async function submitTask(
  deps: ApiDeps,
  body: CreateTaskBody,
  idempotencyKey: string | undefined,
): Promise<{ taskId: string; status: TaskStatus; created: boolean }> {
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ValidationError(
      'Idempotency-Key must be 1-128 characters of letters, digits, ".", "_", ":" or "-".',
    );
  }
  const plan = body.plan
    ? validatePlan(body.plan, {
        knownAgents: deps.knownAgents(),
        source: 'explicit',
        policy: body.policy ?? {},
        inputs: body.inputs ?? {},
      })
    : undefined;
  const now = new Date().toISOString();
  const requestHash = sha256Hex(canonicalJson(body));
  let taskId = newTaskId();
  // A new id names no task yet; only a claimed Idempotency-Key can name one that exists.
  let existing: StoredTask | undefined;
  if (idempotencyKey) {
    const claim = await deps.store.claimIdempotencyKey(idempotencyKey, taskId, requestHash, now);
    if (claim.requestHash !== requestHash) {
      throw new ConflictError(
        `Idempotency-Key "${idempotencyKey}" was already used with a different body (task ${claim.taskId}); use a new key for a new task.`,
        { taskId: claim.taskId },
      );
    }
    // A key claimed just now names the new id: no task to look for. One claimed before names the
    // task of an earlier request (its retry, say), which may exist already.
    if (claim.taskId !== taskId) {
      taskId = claim.taskId;
      existing = await deps.store.getTask(taskId);
    }
    if (existing && existing.status !== 'QUEUED') {
      deps.inTask?.({ taskId, run: existing.run, traceId: existing.traceId });
      return { taskId, status: existing.status, created: false };
    }
  }
  const traceId = existing?.traceId ?? deps.traceId?.() ?? newTraceId();
  deps.inTask?.({ taskId, run: 1, traceId });
  // The plan is written with the task's other items, before its META (the sweeper and the planner
  // tell an explicit plan by it). Beside them, the TaskSubmitted, with the number the task's
  // COUNTER starts with taken (SUBMITTED_SEQ): no reservation. Only then is the task queued.
  await Promise.all([
    deps.store.createTask(
      {
        taskId,
        goal: body.goal,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        traceId,
        status: 'QUEUED',
        policy: body.policy ?? {},
        run: 1,
        requestHash,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      },
      body.inputs ?? {},
      plan,
    ),
    deps.store.appendEvents(
      [
        Events.taskSubmitted(
          { taskId, traceId, run: 1 },
          {
            goal: body.goal,
            explicitPlan: Boolean(plan),
            ...(body.policy ? { policy: body.policy } : {}),
            ...(idempotencyKey ? { idempotencyKey } : {}),
          },
        ),
      ],
      { firstSeq: SUBMITTED_SEQ },
    ),
  ]);
  await deps.queue.send({ taskId, run: 1, traceId });
  return { taskId, status: 'QUEUED', created: !existing };
}

/** A task's stored record, plan and trail, and the view folded from them (404 when it does not exist). */
async function loadTask(deps: ApiDeps, taskId: string) {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new NotFoundError(`No task ${taskId}.`);
  const [plan, events] = await Promise.all([deps.store.getPlan(taskId), deps.store.allEvents(taskId)]);
  return { task, plan, events, view: foldTask(task, plan, events) };
}

/** The task view, with each fan-out step's progress counts (fanout-progress.ts: no item event read). */
export async function getTaskView(deps: ApiDeps, taskId: string): Promise<TaskView> {
  const { view, plan, events } = await loadTask(deps, taskId);
  return withFanOutProgress(view, plan, events, {
    ...(deps.counters ? { counters: deps.counters } : {}),
    results: (ids) => deps.store.getResults(taskId, ids),
  });
}

/**
 * The cheap read for pollers: the task's status as listed (its META item, one read), without the
 * plan and the trail GET /tasks/{id} folds. The listing's status is a projection of the trail,
 * written with each status-changing event; GET /tasks/{id} is the fold itself.
 */
export async function getTaskStatus(deps: ApiDeps, taskId: string): Promise<TaskSummary> {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new NotFoundError(`No task ${taskId}.`);
  return TaskSummary.parse(task);
}

export async function listTaskEvents(deps: ApiDeps, taskId: string, q: z.infer<typeof ListEventsQuery>) {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new NotFoundError(`No task ${taskId}.`);
  const page = await deps.store.listEvents(taskId, { after: q.after, limit: q.limit });
  // While the task runs, never past a number that may still be written (lambdas/core/trail.ts):
  // what follows it is held back.
  const settled = settledEvents(page.events, q.after, {
    now: (deps.now ?? (() => new Date()))(),
    ended: isTerminal(task.status),
  });
  if (settled.heldBack) return { events: settled.events, heldBack: true };
  return { events: page.events, ...(page.next !== undefined ? { next: page.next } : {}) };
}

export async function listTasks(deps: ApiDeps, q: z.infer<typeof ListTasksQuery>) {
  // A bad cursor throws InvalidCursorError, a ValidationError: the API answers 400.
  const page = await deps.store.listTasks(q);
  return { tasks: page.tasks, ...(page.next ? { next: page.next } : {}) };
}

export async function listTaskArtifacts(deps: ApiDeps, taskId: string) {
  if (!(await deps.store.getTask(taskId))) throw new NotFoundError(`No task ${taskId}.`);
  const arts = await deps.store.listArtifacts(taskId);
  return { artifacts: arts.map((a) => ArtifactRef.parse(a)) };
}

/**
 * An artifact's bytes: up to LIMITS.maxInlineDownloadBytes served by the API itself, larger ones
 * as a short-lived presigned S3 URL for the client to follow (the API answers 302).
 */
export type ArtifactDownload =
  | { kind: 'inline'; meta: StoredArtifact; body: Uint8Array }
  | { kind: 'redirect'; meta: StoredArtifact; url: string };

export async function readArtifact(
  deps: ApiDeps,
  taskId: string,
  artifactId: string,
): Promise<ArtifactDownload> {
  const meta = await deps.store.getArtifact(taskId, artifactId);
  if (!meta) throw new NotFoundError(`Task ${taskId} has no artifact ${artifactId}.`);
  if (meta.size > LIMITS.maxInlineDownloadBytes) {
    const url = await deps.artifacts.downloadUrl(meta.s3Key, {
      contentType: meta.contentType,
      fileName: meta.name,
      expiresInSeconds: LIMITS.downloadUrlSeconds,
    });
    return { kind: 'redirect', meta, url };
  }
  return { kind: 'inline', meta, body: await deps.artifacts.get(meta.s3Key) };
}

/**
 * Cancels a task: records TaskCancelled (waiting steps end CANCELLED in the fold), stops its
 * execution, and the step runner discards what running agents return. Idempotent.
 */
export async function cancelTask(
  deps: ApiDeps,
  taskId: string,
): Promise<{ taskId: string; status: TaskStatus }> {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new NotFoundError(`No task ${taskId}.`);
  deps.inTask?.({ taskId, run: task.run, traceId: task.traceId });
  // The status is the fold of the events (the stored status projection may lag behind by a write).
  const { status } = await getTaskView(deps, taskId);
  if (status === 'CANCELLED') return { taskId, status: 'CANCELLED' };
  if (['SUCCEEDED', 'DEGRADED', 'FAILED'].includes(status)) {
    throw new ConflictError(`Task ${taskId} already ended ${status}; there is nothing to cancel.`, {
      taskStatus: status,
    });
  }
  await deps.store.appendEvent(
    Events.taskCancelled(
      { taskId, traceId: task.traceId, run: task.run },
      { run: task.run, previousStatus: status },
    ),
  );
  await deps.workflow.stop(deps.workflow.executionArn(taskId, task.run), 'Cancelled through the API');
  await deps.store.closePendingApprovals(taskId, 'the task was cancelled');
  return { taskId, status: 'CANCELLED' };
}

/**
 * Redrives a FAILED (or DEGRADED) task: a new run of the same plan in which steps that
 * succeeded are not run again (their gates release at once), like Step Functions' redrive.
 */
export async function redriveTask(
  deps: ApiDeps,
  taskId: string,
): Promise<{ taskId: string; status: TaskStatus; run: number }> {
  const {
    task,
    events,
    view: { status },
  } = await loadTask(deps, taskId);
  if (status !== 'FAILED' && status !== 'DEGRADED') {
    throw new ConflictError(`Only FAILED or DEGRADED tasks can be redriven; task ${taskId} is ${status}.`, {
      taskStatus: status,
    });
  }
  // A redrive cut off (a crash, a timeout) after it reserved its run and before it recorded it
  // left the task FAILED with a run nothing happened in: this redrive finishes that one, so runs
  // stay numbered without a hole and TaskRedriven's previousRun names a run that ran.
  const reservedOnly =
    task.run > 1 && !events.some((e) => e.type === 'TaskRedriven' && e.data.run === task.run);
  const run = reservedOnly ? task.run : task.run + 1;
  const previousRun = run - 1;
  deps.inTask?.({ taskId, run, traceId: task.traceId });
  if (!reservedOnly && !(await deps.store.setRun(taskId, run))) {
    throw new ConflictError(`Task ${taskId} is already being redriven.`);
  }
  const now = new Date().toISOString();
  await deps.store.appendEvent(
    Events.taskRedriven({ taskId, traceId: task.traceId, run }, { run, previousRun, previousStatus: status }),
  );
  await deps.store.markDeadLetterRedriven(taskId, previousRun, now);
  await deps.queue.send({ taskId, run, traceId: task.traceId });
  return { taskId, status: 'QUEUED', run };
}

export async function listDeadLetters(deps: ApiDeps, q: { limit: number; include?: 'open' | 'all' }) {
  return {
    deadLetters: await deps.store.listDeadLetters({ limit: q.limit, includeRedriven: q.include === 'all' }),
  };
}
