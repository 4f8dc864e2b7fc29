/**
 * Orchestrator Lambda handlers: middleware wiring around the use cases. One module, one
 * export per function of the state machine (the stack points each function at its export).
 */

import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type * as z from 'zod';
import { documentClient, sfnClient, sqsClient } from '../adapters/clients.js';
import { ConsoleApprovalNotifier, SnsApprovalNotifier } from '../adapters/notifier.js';
import { DeadLetterQueue, IntakeQueue } from '../adapters/queue.js';
import { loadSigningSecrets } from '../adapters/secrets.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { type EnvOf, FUNCTION_ENV, type FunctionName, parseEnv } from '../core/env.js';
import { ReconcileResult } from '../core/execution-status.js';
import { agentFunctionName } from '../core/ids.js';
import { EventMeter } from '../core/metrics.js';
import { STATE_CONTRACTS } from '../core/states.js';
import { estimateModelCost } from '../models/pricing.js';
import { outputContract } from '../shared/contract.js';
import {
  logger,
  logLine,
  meteredEvents,
  observed,
  publishMetrics,
  scopeOf,
  withLogScope,
  xrayTelemetry,
} from '../shared/observability.js';
import * as approvalGates from './approvals.js';
import type { ApprovalServices, OrchestratorDeps } from './deps.js';
import { awaitDependencies } from './gate.js';
import { finalizeTask, planTask, startTask } from './lifecycle.js';
import { reconcileExecution } from './reconcile.js';
import { recordAttemptFailure } from './steps.js';
import { type SweepDeps, type SweepResult, sweepQueuedTasks } from './sweep.js';

/** What any orchestrator function's environment may hold (each reads its own schema's). */
type OrchestratorEnv = EnvOf<
  (typeof FUNCTION_ENV)[Exclude<FunctionName, 'api' | 'agent' | 'stepRunner' | 'sweep'>]
>;

/** One per container: what the metrics of later events need (lambdas/core/metrics.ts). */
const meter = new EventMeter(estimateModelCost);

function wired(env: OrchestratorEnv): OrchestratorDeps {
  return {
    store: meteredEvents(new TaskStore(documentClient(), env.TABLE_NAME), meter),
    workflow: new WorkflowClient(sfnClient(), 'STATE_MACHINE_ARN' in env ? env.STATE_MACHINE_ARN : undefined),
    // Planner and StepFailed only (their schemas require it); the others run no agent.
    agentFunctions: 'BATON_AGENT_FUNCTION_PREFIX' in env ? agentFunctionsOf(env) : {},
    ...('DEAD_LETTER_QUEUE_URL' in env
      ? { deadLetters: new DeadLetterQueue(sqsClient(), env.DEAD_LETTER_QUEUE_URL) }
      : {}),
    ...('BATON_PUBLIC_URL' in env ? { approvals: approvalServices(env) } : {}),
    log: logLine,
    telemetry: xrayTelemetry(),
  };
}

/** Agent name -> its function name, from the deployment's agent names and function prefix. */
function agentFunctionsOf(env: { BATON_AGENT_NAMES: string; BATON_AGENT_FUNCTION_PREFIX: string }) {
  const names = env.BATON_AGENT_NAMES.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return Object.fromEntries(names.map((n) => [n, agentFunctionName(env.BATON_AGENT_FUNCTION_PREFIX, n)]));
}

/**
 * Approvers are told through SNS when the stack gives a topic (APPROVAL_TOPIC_ARN), else on the
 * console (local mode: the runtime log). Links are signed with the secrets from SSM or the local
 * secret file, and start with BATON_PUBLIC_URL.
 */
function approvalServices(env: EnvOf<typeof FUNCTION_ENV.requestApproval>): ApprovalServices {
  const topicArn = env.APPROVAL_TOPIC_ARN;
  return {
    secrets: () => loadSigningSecrets({ env }),
    notifier: topicArn ? new SnsApprovalNotifier({ topicArn }) : new ConsoleApprovalNotifier(),
    publicUrl: () => env.BATON_PUBLIC_URL,
  };
}

/**
 * One state-machine function: its environment is read at the first invocation (a missing
 * variable fails it at once), its output is checked against its contract (lambdas/core/states.ts).
 */
const wrap = <
  F extends Exclude<FunctionName, 'api' | 'agent' | 'stepRunner' | 'sweep' | 'intake' | 'reconcile'>,
  T extends z.output<(typeof STATE_CONTRACTS)[F]['output']>,
>(
  name: F,
  fn: (d: OrchestratorDeps, event: unknown) => Promise<T>,
) => {
  let deps: OrchestratorDeps | undefined;
  return middy<unknown, T>()
    .use(observed())
    .use(outputContract(STATE_CONTRACTS[name].output, `The ${name} function`))
    .handler((event: unknown) => {
      deps ??= wired(parseEnv(FUNCTION_ENV[name], `the ${name} function`));
      return fn(deps, event);
    });
};

export const planner = wrap('planner', planTask);
export const gate = wrap('gate', awaitDependencies);
export const stepFailed = wrap('stepFailed', recordAttemptFailure);
export const finalize = wrap('finalize', finalizeTask);
export const requestApproval = wrap('requestApproval', approvalGates.requestApproval);
export const resolveApproval = wrap('resolveApproval', approvalGates.resolveApproval);

let intakeDeps: OrchestratorDeps | undefined;
/** SQS intake: starts executions; failed records go back to the queue (and to its DLQ in the end). */
export const intake = middy<SQSEvent, SQSBatchResponse>()
  .use(observed({ scope: () => ({}) }))
  .handler(async (event) => {
    intakeDeps ??= wired(parseEnv(FUNCTION_ENV.intake, 'the intake function'));
    const deps = intakeDeps;
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        // Each record's lines carry its task and trace (the message body names both).
        await withLogScope(scopeOf(parseJson(record.body)), async () => {
          await startTask(deps, record.body, record.attributes?.AWSTraceHeader);
          logger.info('execution started', { messageId: record.messageId });
        });
      } catch (err) {
        logger.error('Could not start a task execution', {
          messageId: record.messageId,
          error: err as Error,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });

let reconcileDeps: OrchestratorDeps | undefined;
/** EventBridge: execution status changes (TIMED_OUT, ABORTED, FAILED) end their tasks (reconcile.ts). */
export const reconcile = middy<unknown, ReconcileResult>()
  .use(observed({ scope: (event) => scopeOf(parseJson(executionInputOf(event))) }))
  .use(outputContract(ReconcileResult, 'The reconcile function'))
  .handler((event: unknown) => {
    reconcileDeps ??= wired(parseEnv(FUNCTION_ENV.reconcile, 'the reconcile function'));
    return reconcileExecution(reconcileDeps, event);
  });

let sweepDeps: SweepDeps | undefined;
let sweepAfterSeconds: number | undefined;
/** Scheduled (EventBridge rule): QUEUED tasks whose start never went out are sent again (sweep.ts). */
export const sweep = middy<unknown, SweepResult>()
  .use(observed({ scope: () => ({}) }))
  .handler(() => {
    if (!sweepDeps) {
      const env = parseEnv(FUNCTION_ENV.sweep, 'the sweep function');
      sweepAfterSeconds = env.SWEEP_AFTER_SECONDS;
      sweepDeps = {
        store: new TaskStore(documentClient(), env.TABLE_NAME),
        queue: new IntakeQueue(sqsClient(), env.INTAKE_QUEUE_URL),
        log: logLine,
        metrics: publishMetrics,
      };
    }
    return sweepQueuedTasks(sweepDeps, new Date(), { afterSeconds: sweepAfterSeconds });
  });

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An execution status change event's `detail.input` (the execution input, as JSON text). */
function executionInputOf(event: unknown): unknown {
  const detail = (event as { detail?: { input?: unknown } } | undefined)?.detail;
  return detail?.input;
}
