/** What the orchestrator's use cases need; handlers wire the real adapters, tests wire fakes or mocks. */
import type { DeadLetterQueue } from '../adapters/queue.js';
import type { TaskStore } from '../adapters/store.js';
import type { WorkflowClient } from '../adapters/workflow.js';

export interface OrchestratorDeps {
  store: TaskStore;
  workflow: WorkflowClient;
  /** Agent name -> the Lambda function (name or ARN) that runs it. */
  agentFunctions: Record<string, string>;
  /** Where failed tasks are dead-lettered (Finalize). */
  deadLetters?: DeadLetterQueue;
  log?: (line: Record<string, unknown>) => void;
}
