/**
 * The local Step Functions' public types (what `LocalStepFunctions` takes and stores), its
 * service error, and the small JSON and ARN helpers every module of `lib/local/sfn` shares.
 */

import type { S3Client } from '@aws-sdk/client-s3';
import type { ExecutionStatusChange } from '../../../lambdas/core/execution-status.js';

/**
 * Invokes a Lambda function in process. Resolves with the function's JSON result, or rejects with
 * an Error whose `name` is the Lambda errorType and `message` the errorMessage.
 */
export type LocalLambdaInvoker = (functionName: string, payload: unknown) => Promise<unknown>;

/** Runs a non-Lambda Task resource (e.g. `arn:aws:states:::sqs:sendMessage`) with its processed Parameters. */
export type LocalServiceIntegration = (parameters: unknown) => Promise<unknown>;

export type LogSink = (line: Record<string, unknown>) => void;

export interface LocalStepFunctionsOptions {
  /** Executions are stored as JSON files under `<dataDir>/executions/`. */
  dataDir: string;
  invokeLambda: LocalLambdaInvoker;
  /** Structured log sink (one object per line). Default: silent. */
  log?: LogSink;
  /**
   * Timeout for Task states that set neither TimeoutSeconds nor TimeoutSecondsPath.
   * Default 60, the aws-local-stepfunctions default. AWS itself has none: a Lambda task is bounded
   * by the function's own timeout, a callback task only by the execution's.
   */
  defaultTaskTimeoutSeconds?: number;
  /** Handlers for Task resources other than Lambda, keyed by the exact Resource ARN. */
  serviceIntegrations?: Record<string, LocalServiceIntegration>;
  /**
   * Receives the "Step Functions Execution Status Change" event of every status change (the
   * local EventBridge). An event stays in the execution's file until this resolves, and is sent
   * again after a restart if it never did. Default: no events.
   */
  onStatusChange?: (event: ExecutionStatusChange) => Promise<void>;
  /**
   * The S3 client of the engine's own calls (a Distributed Map's ItemReader and ResultWriter). In
   * local mode it signs as the state machine's role, so local IAM checks each call against the
   * role's policies at the emulator's front. Without it a Distributed Map with an ItemReader or
   * ResultWriter fails with States.ItemReaderFailed / States.ResultWriterFailed.
   */
  s3?: S3Client;
  /**
   * Checks an action the engine takes as the state machine's role that no HTTP request carries
   * (a Distributed Map's `states:StartExecution` of its child workflows, `states:RedriveExecution`
   * of a child it redrives); rejects (local IAM's AccessDeniedError) when the role may not.
   * Default: everything allowed.
   */
  authorizeEngineCall?: (action: string, resource: string) => Promise<void>;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One entry of an execution's history, in the shape of the SFN HistoryEvent (timestamp as ISO 8601). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: string;
  type: string;
  [details: string]: unknown;
}

/** The persisted form of an execution (`<dataDir>/executions/*.json`). */
export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** Execution input as JSON text, as in the SFN API. */
  input: string;
  /** StartExecution's X-Ray trace header, kept and described (no X-Ray here: nothing is traced). */
  traceHeader?: string;
  /** Execution output as JSON text (SUCCEEDED only). */
  output?: string;
  error?: string;
  cause?: string;
  startDate: string;
  stopDate?: string;
  /** How many times the execution was re-run from the start after the process stopped. */
  redriveCount: number;
  history: HistoryEvent[];
  /** Status change events not delivered yet (status-events.ts): saved with the status they report. */
  statusEvents?: ExecutionStatusChange[];
  /** How many times RedriveExecution redrove it (`redriveCount` also counts restarts after a crash). */
  redrives?: number;
  redriveDate?: string;
  /**
   * The top-level state the execution entered last, with its input: where RedriveExecution
   * continues a failed execution (the state that failed, or the one whose branch failed).
   */
  redriveFrom?: { state: string; input: string };
  /** The Map Runs its Distributed Map states started (distributed-map.ts), one entry per Map Run. */
  mapRuns?: MapRunRef[];
}

/** An execution's reference to one of its Map Runs (the Map Run itself is in map-runs.ts's store). */
export interface MapRunRef {
  mapRunArn: string;
  /** The Distributed Map state, and a digest of its evaluated input: how a re-run finds it again. */
  state: string;
  key: string;
  /** The execution's `redrives` when the Map Run last started or was redriven. */
  attempt: number;
}

export type SfnErrorName =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'ExecutionNotRedrivable'
  | 'ResourceNotFound'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidDefinition'
  | 'InvalidExecutionInput'
  | 'InvalidOutput'
  | 'InvalidToken'
  | 'TaskTimedOut'
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'ServiceUnavailable';

/** A Step Functions service error; over HTTP it becomes a 400 with `{"__type": name, "message": ...}`. */
export class SfnServiceError extends Error {
  override readonly name: SfnErrorName;
  constructor(name: SfnErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared constants and helpers
// ---------------------------------------------------------------------------------------------

/** setTimeout fires at once for delays above 2^31-1 ms, so longer timeouts are capped (~24.8 days). */
export const MAX_TIMER_SECONDS = 2_147_483;
/** The Step Functions payload quota (state input/output, task results, SendTaskSuccess output). */
export const MAX_PAYLOAD_BYTES = 262_144;
export const TERMINAL: ReadonlySet<ExecutionStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
]);

export const STATE_MACHINE_ARN = /^arn:([^:]+):states:([^:]*):([^:]*):stateMachine:([^:]+)$/;
export const EXECUTION_ARN = /^arn:([^:]+):states:([^:]*):([^:]*):execution:([^:]+):([^:]+)$/;
/** `arn:aws:states:<region>:<account>:mapRun:<state machine>/<label>:<id>` */
export const MAP_RUN_ARN = /^arn:([^:]+):states:([^:]*):([^:]*):mapRun:([^:/]+)\/([^:]+):([0-9a-f-]+)$/;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function timerMs(seconds: number): number {
  return Math.min(seconds, MAX_TIMER_SECONDS) * 1000;
}

export function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

export function withoutUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined));
}
