/**
 * Execution history: the SFN HistoryEvent entries of an `ExecutionRecord`, from the library's
 * event log (`historyEntry`) and from the emulator's own milestones (`pushEvent`, `finishRecord`).
 */
import type { StateMachine } from 'aws-local-stepfunctions';
import type { TaskInfo } from './definition.js';
import { queueStatusEvent } from './status-events.js';
import { type ExecutionRecord, withoutUndefined } from './types.js';

type LibraryExecution = ReturnType<StateMachine['run']>;
export type LibraryEvent = LibraryExecution['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** How an execution ended. */
export type Outcome =
  | { status: 'SUCCEEDED'; output: string }
  | { status: 'FAILED' | 'ABORTED' | 'TIMED_OUT'; error?: string; cause?: string };

const TERMINAL_EVENTS = {
  FAILED: ['ExecutionFailed', 'executionFailedEventDetails'],
  ABORTED: ['ExecutionAborted', 'executionAbortedEventDetails'],
  TIMED_OUT: ['ExecutionTimedOut', 'executionTimedOutEventDetails'],
} as const;

export function pushEvent(
  record: Pick<ExecutionRecord, 'history'>,
  type: string,
  details: Record<string, unknown>,
  timestampMs = Date.now(),
): void {
  const id = record.history.length + 1;
  record.history.push({
    id,
    previousEventId: id - 1,
    timestamp: new Date(timestampMs).toISOString(),
    type,
    ...details,
  });
}

/**
 * Sets the record's terminal status, appends the matching Execution* event, and queues the
 * status change event for EventBridge (status-events.ts; it goes out once the record is saved).
 */
export function finishRecord(record: ExecutionRecord, outcome: Outcome): void {
  record.status = outcome.status;
  record.stopDate = new Date().toISOString();
  if (outcome.status === 'SUCCEEDED') {
    record.output = outcome.output;
    pushEvent(record, 'ExecutionSucceeded', {
      executionSucceededEventDetails: { output: outcome.output, outputDetails: { truncated: false } },
    });
  } else {
    if (outcome.error !== undefined) record.error = outcome.error;
    if (outcome.cause !== undefined) record.cause = outcome.cause;
    const details = withoutUndefined({ error: outcome.error, cause: outcome.cause });
    const [type, detailsKey] = TERMINAL_EVENTS[outcome.status];
    pushEvent(record, type, { [detailsKey]: details });
  }
  queueStatusEvent(record);
}

function jsonText(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function errorText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

/** The state's type as AWS names it: a Distributed Map runs as a Task stand-in in the library. */
function stateType(state: { name: string; type: string }, tasks: Map<string, TaskInfo>): string {
  return tasks.get(state.name)?.target.kind === 'distributed-map' ? 'Map' : state.type;
}

/** Maps a library event onto an SFN history event type and details; events AWS has no match for are dropped. */
export function historyEntry(
  event: LibraryEvent,
  tasks: Map<string, TaskInfo>,
): { type: string; details: Record<string, unknown> } | undefined {
  switch (event.type) {
    case 'StateEntered':
      return {
        type: `${stateType(event.state, tasks)}StateEntered`,
        details: { stateEnteredEventDetails: { name: event.state.name, input: jsonText(event.state.input) } },
      };
    case 'StateExited':
      return {
        type: `${stateType(event.state, tasks)}StateExited`,
        details: {
          stateExitedEventDetails: { name: event.state.name, output: jsonText(event.state.output) },
        },
      };
    case 'StateFailed': {
      const error = event.Error;
      const cause = errorText(event.Cause);
      const type = stateType(event.state, tasks);
      if (type === 'Task') {
        const resource = tasks.get(event.state.name)?.resource ?? '';
        const [resourceType, resourceName] = resourceParts(resource);
        const timedOut = error === 'States.Timeout' || error === 'States.HeartbeatTimeout';
        return {
          type: timedOut ? 'TaskTimedOut' : 'TaskFailed',
          details: {
            [timedOut ? 'taskTimedOutEventDetails' : 'taskFailedEventDetails']: {
              resourceType,
              resource: resourceName,
              error,
              cause,
            },
          },
        };
      }
      if (type === 'Map' || type === 'Parallel') {
        return { type: `${type}StateFailed`, details: {} };
      }
      return undefined;
    }
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed': {
      const key = `mapIteration${event.type.slice('MapIteration'.length)}EventDetails`;
      return { type: event.type, details: { [key]: { name: event.parentState.name, index: event.index } } };
    }
    default:
      return undefined;
  }
}

function resourceParts(resource: string): [string, string] {
  const service = /^arn:[^:]+:states:::([^:]+):(.+)$/.exec(resource);
  if (service?.[1] && service[2]) return [service[1], service[2]];
  return ['lambda', 'invoke'];
}
