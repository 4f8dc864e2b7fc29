/**
 * The telemetry port: spans around agent invocations, tool calls and model calls, named and
 * attributed with the OpenTelemetry GenAI semantic conventions, and metric points. Pure: the
 * X-Ray and EMF adapters live in lambdas/shared/observability.ts; unit tests pass a fake.
 */

/** OpenTelemetry GenAI attribute names (semantic conventions, gen_ai.*). */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  agentName: 'gen_ai.agent.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  toolName: 'gen_ai.tool.name',
  system: 'gen_ai.system',
} as const;

/** `gen_ai.operation.name` values Baton uses. */
export type GenAiOperation = 'invoke_agent' | 'execute_tool' | 'chat';

export type SpanAttributes = Record<string, string | number | boolean>;

/** An open span: attributes known only when the work is done (token usage) are set on it. */
export interface Span {
  set(attributes: SpanAttributes): void;
}

export interface Telemetry {
  /** Runs `fn` inside a span named `name`; a thrown error is recorded on the span and rethrown. */
  span<T>(name: string, attributes: SpanAttributes, fn: (span: Span) => Promise<T>): Promise<T>;
}

/** No spans (unit tests that do not look at them, and code paths with no tracer). */
export const NO_TELEMETRY: Telemetry = {
  span: (_name, _attributes, fn) => fn({ set() {} }),
};

/** OTel GenAI span names: `{operation} {target}`, e.g. `invoke_agent research`, `chat bedrock:…`. */
export function genAiSpanName(operation: GenAiOperation, target: string): string {
  return `${operation} ${target}`;
}

export const METRIC_NAMESPACE = 'Baton';

export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds' | 'None';

/** One metric value with its own dimensions (published as one EMF document). */
export interface MetricPoint {
  name: string;
  unit: MetricUnit;
  value: number;
  dimensions: Record<string, string>;
}
