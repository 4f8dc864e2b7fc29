/**
 * The EventBridge event Step Functions sends when an execution's status changes ("Step Functions
 * Execution Status Change", source `aws.states`): the envelope EventBridge gives every event and
 * the `detail` Step Functions fills (the fields of DescribeExecution). The reconciler parses its
 * input with `ExecutionStatusChange`; the local Step Functions builds the same shape
 * (lib/local/sfn/status-events.ts). Pure: no I/O.
 *
 * Dates in `detail` are epoch milliseconds; `input`/`output` are JSON text or null (Step Functions
 * leaves them out, `included: false`, when they are too large for the event). Fields AWS adds
 * later (redrive, versions, aliases) pass through unchecked.
 */
import * as z from 'zod';

export const EXECUTION_STATUS_CHANGE = {
  source: 'aws.states',
  detailType: 'Step Functions Execution Status Change',
} as const;

export const ExecutionStatus = z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);
export type ExecutionStatus = z.infer<typeof ExecutionStatus>;

/** The statuses the reconciler acts on: an execution that ended without Baton's Finalize deciding. */
export const UNRECONCILED_STATUSES = [
  'TIMED_OUT',
  'ABORTED',
  'FAILED',
] as const satisfies readonly ExecutionStatus[];

const DataDetails = z.object({ included: z.boolean() }).nullable().optional();

export const ExecutionStatusDetail = z.looseObject({
  executionArn: z.string().min(1),
  stateMachineArn: z.string().min(1),
  name: z.string().min(1),
  status: ExecutionStatus,
  startDate: z.number(),
  stopDate: z.number().nullable().optional(),
  input: z.string().nullable().optional(),
  inputDetails: DataDetails,
  output: z.string().nullable().optional(),
  outputDetails: DataDetails,
  error: z.string().nullable().optional(),
  cause: z.string().nullable().optional(),
  redriveCount: z.number().int().optional(),
});
export type ExecutionStatusDetail = z.infer<typeof ExecutionStatusDetail>;

export const ExecutionStatusChange = z.looseObject({
  version: z.string(),
  id: z.string().min(1),
  'detail-type': z.literal(EXECUTION_STATUS_CHANGE.detailType),
  source: z.literal(EXECUTION_STATUS_CHANGE.source),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: ExecutionStatusDetail,
});
export type ExecutionStatusChange = z.infer<typeof ExecutionStatusChange>;

/** Which Baton run an execution is: its input `{ taskId, run }` (what intake starts it with). */
export const ExecutionRunInput = z.looseObject({
  taskId: z.string().min(1),
  run: z.number().int().positive(),
});

/** Execution names are `<taskId>-r<run>` (WorkflowClient.executionName). */
const EXECUTION_NAME = /^(.+)-r(\d+)$/;

/**
 * The task and run an execution belongs to: from its input when the event carries it, else from
 * its name. Undefined when the execution is not one of Baton's runs.
 */
export function runOfExecution(detail: ExecutionStatusDetail): { taskId: string; run: number } | undefined {
  if (detail.input) {
    try {
      const parsed = ExecutionRunInput.safeParse(JSON.parse(detail.input));
      if (parsed.success) return { taskId: parsed.data.taskId, run: parsed.data.run };
    } catch {
      // not JSON: fall back to the name
    }
  }
  const match = EXECUTION_NAME.exec(detail.name);
  if (!match?.[1] || !match[2]) return undefined;
  return { taskId: match[1], run: Number(match[2]) };
}

/** What the reconciler did with one event (its Lambda's result, for logs and tests). */
export const ReconcileResult = z.object({
  outcome: z.enum(['recorded', 'ignored']),
  reason: z.string(),
  taskId: z.string().optional(),
  run: z.number().int().optional(),
});
export type ReconcileResult = z.infer<typeof ReconcileResult>;
