/**
 * Local Step Functions: runs the ASL definition that `cdk deploy` ships on aws-local-stepfunctions,
 * with what that library lacks and Baton needs: the task-token callback pattern, HeartbeatSeconds,
 * AWS-shaped Lambda errors, Distributed Map states, RedriveExecution, executions persisted on
 * disk (and re-run after a crash), the execution status change events Step Functions sends to
 * EventBridge, and an HTTP endpoint speaking the awsJson1_0 protocol of the AWS SDK's SFN client.
 *
 * Modules, by job:
 * - service.ts         `LocalStepFunctions`: registration and the SFN operations
 * - definition.ts      definition preparation (the ASL the library runs, what each Task needs)
 * - executor.ts        runs executions: context, Task handlers, task timeouts, history recording
 * - distributed-map.ts Map Runs of Distributed Map states: child workflows, tolerance, redrive
 * - map-runs.ts        Map Runs on disk (a folder each: the run, the child inputs, the ended children)
 * - item-reader.ts     ItemReader on S3 (JSON, JSONL, CSV, listObjectsV2)
 * - result-writer.ts   ResultWriter files on S3 (manifest.json, SUCCEEDED/FAILED/PENDING_0.json)
 * - tokens.ts          task tokens and heartbeats
 * - store.ts           execution store (one JSON file per execution)
 * - history.ts         SFN history events of an execution record
 * - status-events.ts   "Step Functions Execution Status Change" events, through an outbox in the record
 * - protocol.ts        the awsJson1_0 HTTP protocol
 * - library-errors.ts  the only reliance on the library beyond its public API (guarded by tests)
 * - types.ts           public types, SfnServiceError, shared helpers
 */
export { LocalStepFunctions } from './service.js';
export type {
  ExecutionRecord,
  ExecutionStatus,
  HistoryEvent,
  LocalLambdaInvoker,
  LocalServiceIntegration,
  LocalStepFunctionsOptions,
  SfnErrorName,
} from './types.js';
export { SfnServiceError } from './types.js';
