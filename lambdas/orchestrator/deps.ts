/** What the orchestrator's use cases need; handlers wire the real adapters, tests wire fakes or mocks. */
import type { ApprovalNotifier } from '../adapters/notifier.js';
import type { DeadLetterQueue } from '../adapters/queue.js';
import type { WorkflowClient } from '../adapters/workflow.js';
import type { SigningSecrets } from '../core/approvals.js';
import type {
  ApprovalPort,
  DeadLetterPort,
  EventPort,
  ResultPort,
  TaskPort,
  TokenPort,
} from '../core/ports.js';
import type { Telemetry } from '../core/telemetry.js';
import type { planForTask } from './planner.js';

export interface OrchestratorDeps {
  /** The state store's ports the orchestrator uses (no artifacts, no idempotency keys). */
  store: TaskPort & EventPort & ResultPort & TokenPort & ApprovalPort & DeadLetterPort;
  workflow: WorkflowClient;
  /** Agent name -> the Lambda function (name or ARN) that runs it. */
  agentFunctions: Record<string, string>;
  /** Where failed tasks are dead-lettered (Finalize). */
  deadLetters?: DeadLetterQueue;
  /**
   * Makes the plan of a task submitted without one (Planner only): planner.ts `planForTask` with
   * the model provider of the Planner's bundle. The other functions carry no planner.
   */
  plan?: typeof planForTask;
  /** What the approval request needs (RequestApproval only). */
  approvals?: ApprovalServices;
  log?: (line: Record<string, unknown>) => void;
  /** Spans (the planner's model calls); default none. */
  telemetry?: Telemetry;
  /** The clock (tests); default the system clock. */
  now?: () => Date;
}

export interface ApprovalServices {
  /** The link-signing secrets (the first signs). Loaded before a gate is created: a gate nobody can open is worse than a failed step. */
  secrets(): Promise<SigningSecrets>;
  /** Tells approvers (SNS in AWS, the runtime log locally). */
  notifier: ApprovalNotifier;
  /** Base URL of approval links (`BATON_PUBLIC_URL`), read when a link is made. */
  publicUrl(): string;
}
