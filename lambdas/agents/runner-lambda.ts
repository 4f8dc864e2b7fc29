/** The step runner's Lambda handler: runner.ts with the real store, bucket and Lambda client. */
import middy from '@middy/core';
import { AgentInvoker } from '../adapters/agent-invoker.js';
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, lambdaClient, s3Client, sfnClient } from '../adapters/clients.js';
import { TaskStore } from '../adapters/store.js';
import { WorkflowClient } from '../adapters/workflow.js';
import { FUNCTION_ENV, parseEnv } from '../core/env.js';
import { EventMeter } from '../core/metrics.js';
import { AgentResult } from '../core/states.js';
import { GEN_AI, genAiSpanName, type Telemetry } from '../core/telemetry.js';
import { estimateModelCost } from '../models/pricing.js';
import { completeStep } from '../orchestrator/steps.js';
import { outputContract } from '../shared/contract.js';
import { logLine, meteredEvents, observed, publishMetrics, xrayTelemetry } from '../shared/observability.js';
import type { AgentRequest } from './protocol.js';
import { type RunnerDeps, runStep } from './runner.js';

/**
 * The agent invocation as an `invoke_agent <agent>` span (OTel GenAI attributes) and the
 * StepDuration metric (milliseconds, by agent: how long the agent function ran this attempt).
 */
export function observedInvoke(
  invoke: (fn: string, request: AgentRequest) => Promise<unknown>,
  telemetry: Telemetry,
  metrics: typeof publishMetrics = publishMetrics,
  clock: () => number = Date.now,
): (fn: string, request: AgentRequest) => Promise<unknown> {
  return (fn, request) => {
    const agent = request.input.agent;
    const attributes = {
      [GEN_AI.operationName]: 'invoke_agent',
      [GEN_AI.agentName]: agent,
      'baton.task.id': request.input.taskId,
      'baton.step.id': request.input.stepId,
      'baton.step.attempt': request.input.attempt,
    };
    return telemetry.span(genAiSpanName('invoke_agent', agent), attributes, async () => {
      const started = clock();
      try {
        return await invoke(fn, request);
      } finally {
        metrics([
          { name: 'StepDuration', unit: 'Milliseconds', value: clock() - started, dimensions: { agent } },
        ]);
      }
    });
  };
}

let deps: RunnerDeps | undefined;
function wired(): RunnerDeps {
  if (deps) return deps;
  const env = parseEnv(FUNCTION_ENV.stepRunner, 'the step runner');
  const invoker = new AgentInvoker(lambdaClient());
  const store = meteredEvents(
    new TaskStore(documentClient(), env.TABLE_NAME),
    new EventMeter(estimateModelCost),
  );
  // Completing the step releases its dependents' gates: task tokens, answered without the ARN.
  const orchestration = {
    store,
    workflow: new WorkflowClient(sfnClient()),
    agentFunctions: {},
    log: logLine,
  };
  deps = {
    store,
    complete: async (req, known) => {
      await completeStep(orchestration, req, known);
    },
    artifacts: new ArtifactStore(s3Client(), env.ARTIFACT_BUCKET),
    invokeAgent: observedInvoke((fn, request) => invoker.invoke(fn, request), xrayTelemetry()),
    log: logLine,
  };
  return deps;
}

export const stepRunner = middy<unknown, AgentResult>()
  .use(observed())
  .use(outputContract(AgentResult, 'The step runner'))
  .handler((event: unknown) => runStep(wired(), event));
