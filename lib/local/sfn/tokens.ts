/**
 * Task tokens and heartbeats: the `.waitForTaskToken` pattern the library lacks. A callback task
 * is open from the moment its token is handed over until SendTaskSuccess, SendTaskFailure, its
 * TimeoutSeconds, its HeartbeatSeconds without a SendTaskHeartbeat, or the end of its execution;
 * a closed token answers TaskTimedOut, an unknown one InvalidToken (as in AWS).
 */
import { randomBytes } from 'node:crypto';
import type { EngineClock, EngineTimer } from './clock.js';
import type { TimeoutErrors } from './library-errors.js';
import { isObject, type Json, SfnServiceError } from './types.js';

/** How many closed tokens are remembered (to answer TaskTimedOut rather than InvalidToken). */
const MAX_CLOSED_TOKENS = 100_000;

export function mintToken(): string {
  return randomBytes(48).toString('base64url');
}

function containsString(value: unknown, needle: string): boolean {
  if (value === needle) return true;
  if (Array.isArray(value)) return value.some((item) => containsString(item, needle));
  if (isObject(value)) return Object.values(value).some((item) => containsString(item, needle));
  return false;
}

/**
 * `$$.Task.Token` of one run. The library evaluates a state's Parameters and calls its task
 * handler in one synchronous stretch, so a token minted by the context getter (`read`) is
 * claimed by the very task entry that referenced it (`claim`).
 */
export class TokenSlot {
  private minted: string | undefined;

  read(): string {
    this.minted ??= mintToken();
    return this.minted;
  }

  /** The token minted for this task entry, or undefined if its Parameters did not pass one. */
  claim(input: Json): string | undefined {
    const minted = this.minted;
    this.minted = undefined;
    return minted !== undefined && containsString(input, minted) ? minted : undefined;
  }
}

export interface PendingTask {
  readonly token: string;
  readonly stateName: string;
  /** The open tokens of the task's execution; the task removes itself when it closes. */
  readonly owner: Set<string>;
  readonly heartbeatSeconds?: number;
  heartbeatTimer?: EngineTimer;
  timeoutTimer?: EngineTimer;
  resolve: (output: Json) => void;
  reject: (error: Error) => void;
}

export type TaskOutcome = { output: Json } | { error: Error };

export interface OpenTaskOptions {
  stateName: string;
  /** The execution's open tokens (see `release`). */
  owner: Set<string>;
  timeoutSeconds: number;
  heartbeatSeconds?: number;
}

export class TaskTokens {
  private readonly pending = new Map<string, PendingTask>();
  private readonly closed = new Set<string>();

  constructor(
    private readonly timeouts: TimeoutErrors,
    private readonly clock: EngineClock,
  ) {}

  /** Opens a callback task; the promise settles with its output or rejects with its error. */
  open(token: string, options: OpenTaskOptions): { task: PendingTask; result: Promise<Json> } {
    let task: PendingTask | undefined;
    const result = new Promise<Json>((resolve, reject) => {
      task = {
        token,
        stateName: options.stateName,
        owner: options.owner,
        heartbeatSeconds: options.heartbeatSeconds,
        resolve,
        reject,
      };
    });
    const opened = task as PendingTask;
    this.pending.set(token, opened);
    options.owner.add(token);
    const seconds = options.timeoutSeconds;
    opened.timeoutTimer = this.clock.after(seconds, () => {
      this.settle(opened, {
        error: this.timeouts.create(
          'States.Timeout',
          `Task did not complete within TimeoutSeconds=${seconds}`,
        ),
      });
    });
    this.heartbeat(opened);
    return { task: opened, result };
  }

  /** The open task of a token; TaskTimedOut if it has closed, InvalidToken if it never existed. */
  lookup(token: string): PendingTask {
    const task = this.pending.get(token);
    if (task) return task;
    if (this.closed.has(token)) {
      throw new SfnServiceError('TaskTimedOut', 'Task Timed Out: the task is already closed');
    }
    throw new SfnServiceError('InvalidToken', 'Invalid Token');
  }

  isOpen(task: PendingTask): boolean {
    return this.pending.get(task.token) === task;
  }

  /** (Re-)arms the heartbeat timer of a task that has HeartbeatSeconds. */
  heartbeat(task: PendingTask): void {
    if (task.heartbeatSeconds === undefined) return;
    this.clock.cancel(task.heartbeatTimer);
    const seconds = task.heartbeatSeconds;
    task.heartbeatTimer = this.clock.after(seconds, () => {
      this.settle(task, {
        error: this.timeouts.create(
          'States.HeartbeatTimeout',
          `No heartbeat received within HeartbeatSeconds=${seconds}`,
        ),
      });
    });
  }

  /** Closes the task (once; later calls do nothing) and settles its promise. */
  settle(task: PendingTask, outcome: TaskOutcome): void {
    if (!this.isOpen(task)) return;
    this.pending.delete(task.token);
    task.owner.delete(task.token);
    this.closed.add(task.token);
    if (this.closed.size > MAX_CLOSED_TOKENS) {
      const oldest = this.closed.values().next().value;
      if (oldest !== undefined) this.closed.delete(oldest);
    }
    this.clock.cancel(task.timeoutTimer);
    this.clock.cancel(task.heartbeatTimer);
    if ('output' in outcome) task.resolve(outcome.output);
    else task.reject(outcome.error);
  }

  /** Closes every open task of `owner` with `error`. */
  release(owner: Set<string>, error: () => Error): void {
    for (const token of [...owner]) {
      const task = this.pending.get(token);
      if (task) this.settle(task, { error: error() });
    }
  }
}
