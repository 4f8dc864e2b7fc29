/**
 * `defineAgent`: one definition per agent, with everything Baton knows about it. The registry
 * (agents by name, descriptions), the settings (default tools), the planner's catalog (input
 * schemas) and the contract suite read the definitions; the harness runs them:
 *
 *   export const research = defineAgent({
 *     name: 'research',
 *     description: 'Searches the corpus ...; writes cited notes',
 *     input: ResearchInput,            // the step's `input`; checked before the agent runs
 *     output: ResearchOutput,          // the `output` it returns; checked after it ran
 *     defaultTools: { search: {}, http: {} },
 *     systemPrompt: RESEARCH_SYSTEM_PROMPT,
 *     offline: (input, ctx, params) => ...,   // the path without a model (optional)
 *     handler: (input, ctx, params) => ...,   // the path with a model (or every path)
 *   });
 *
 * Step input that breaks `input` fails the attempt with Baton.NonRetryable, naming the field
 * (`research input is not valid: input.topic: ...`); output that breaks the generic AgentOutput
 * contract or `output` fails it with Baton.ContractViolation. Neither is retried.
 *
 * A registered agent's module (Baton config: `"handler": "./my-agent.ts#myAgent"`) may export a
 * definition made here, or a bare `AgentHandler` (no schemas: only AgentOutput is checked).
 */
import type * as z from 'zod';
import { ContractViolationError, NonRetryableError } from '../core/errors.js';
import { jsonProblem } from '../core/json.js';
import {
  type AgentArtifact,
  type AgentContext,
  type AgentHandler,
  type AgentInput,
  AgentName,
  AgentOutput,
} from '../core/schemas.js';
import type { AgentToolsSettings } from './settings.js';

/** What an agent returns, with `output` typed by its output schema. */
export interface AgentResult<O> {
  /** One paragraph for the audit trail and the downstream steps. */
  summary: string;
  output: O;
  artifacts?: AgentArtifact[];
}

/** One path of an agent: the harness's input and context, and the step input parsed by `input`. */
export type AgentRun<P, O> = (input: AgentInput, ctx: AgentContext, params: P) => Promise<AgentResult<O>>;

export interface AgentSpec<I extends z.ZodType, O extends z.ZodType> {
  /** The agent's name in plans and the config (lowercase letters, digits, "-"). */
  name: string;
  /** One line for the planner's catalog and the Lambda description. */
  description: string;
  /** Schema of the step's `input`. */
  input: I;
  /** Schema of the `output` the agent returns. */
  output: O;
  /** Tool sections the agent has unless configured otherwise (the config is laid over them). */
  defaultTools?: AgentToolsSettings;
  /** The system prompt of its model path. */
  systemPrompt?: string;
  /** The path without a model (the offline provider): deterministic rules. Absent: `handler` runs always. */
  offline?: AgentRun<z.output<I>, z.input<O>>;
  /** The path with a model; every path when there is no `offline`. */
  handler: AgentRun<z.output<I>, z.input<O>>;
}

export const AGENT_DEFINITION = 'baton.agent' as const;

export interface AgentDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  /** Tells a definition from a bare handler in a loaded module. */
  readonly kind: typeof AGENT_DEFINITION;
  readonly name: string;
  readonly description: string;
  readonly input: I;
  readonly output: O;
  readonly defaultTools: AgentToolsSettings;
  readonly systemPrompt?: string;
  offline?(input: AgentInput, ctx: AgentContext, params: z.output<I>): Promise<AgentResult<z.input<O>>>;
  handler(input: AgentInput, ctx: AgentContext, params: z.output<I>): Promise<AgentResult<z.input<O>>>;
}

/** What an agent module exports: a definition, or a bare handler (registered agents, as before). */
export type AgentModule = AgentDefinition | AgentHandler;

export function defineAgent<I extends z.ZodType, O extends z.ZodType>(
  spec: AgentSpec<I, O>,
): AgentDefinition<I, O> {
  const name = AgentName.safeParse(spec.name);
  if (!name.success) {
    throw new ContractViolationError(
      `Agent name "${spec.name}" is not valid: ${name.error.issues[0]?.message}`,
    );
  }
  if (!spec.description.trim()) throw new ContractViolationError(`Agent "${spec.name}" needs a description`);
  return Object.freeze({
    kind: AGENT_DEFINITION,
    name: spec.name,
    description: spec.description,
    input: spec.input,
    output: spec.output,
    defaultTools: spec.defaultTools ?? {},
    ...(spec.systemPrompt !== undefined ? { systemPrompt: spec.systemPrompt } : {}),
    ...(spec.offline ? { offline: spec.offline } : {}),
    handler: spec.handler,
  });
}

export function isAgentDefinition(value: unknown): value is AgentDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === AGENT_DEFINITION &&
    typeof (value as { handler?: unknown }).handler === 'function'
  );
}

/** Parses a step input; a bad one is a NonRetryableError that says what is wrong, field by field. */
export function parseStepInput<T>(agent: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .map((i) => `${i.path.length ? `input.${i.path.join('.')}` : 'input'}: ${i.message}`)
    .join('; ');
  throw new NonRetryableError(`${agent} input is not valid: ${issues}`, { cause: parsed.error });
}

/**
 * Runs an agent once: a definition has its step input checked first, then its offline path runs
 * when the context has no real model (else its handler); a bare handler is called as it is.
 * The result is returned unchecked: `checkAgentOutput` checks it.
 */
export async function invokeAgent(
  agent: AgentModule,
  input: AgentInput,
  ctx: AgentContext,
): Promise<unknown> {
  if (!isAgentDefinition(agent)) return agent(input, ctx);
  const params = parseStepInput(agent.name, agent.input, input.input);
  const live = ctx.model !== undefined && !ctx.model.deterministic;
  return !live && agent.offline ? agent.offline(input, ctx, params) : agent.handler(input, ctx, params);
}

/**
 * Checks what an agent returned: plain JSON data (no cycles, functions, class instances, ...),
 * the generic AgentOutput contract, and a definition's own output schema. Returns it parsed by
 * AgentOutput; a violation is a ContractViolationError (Baton.ContractViolation, never retried).
 */
export function checkAgentOutput(agentName: string, raw: unknown, agent?: AgentModule): AgentOutput {
  const broken = (what: string, issues: string, cause?: unknown) =>
    new ContractViolationError(
      `Agent "${agentName}" returned output that breaks ${what}: ${issues}`,
      cause === undefined ? undefined : { cause },
    );
  const notJson = jsonProblem(raw);
  if (notJson) throw broken('the agent contract', `${notJson.path || '(output)'}: ${notJson.message}`);
  const parsed = AgentOutput.safeParse(raw);
  if (!parsed.success) throw broken('the agent contract', issuesText(parsed.error, '(output)'), parsed.error);
  if (agent && isAgentDefinition(agent)) {
    const own = agent.output.safeParse(parsed.data.output);
    if (!own.success)
      throw broken(`its output schema`, issuesText(own.error, 'output', 'output.'), own.error);
  }
  return parsed.data;
}

function issuesText(error: z.ZodError, root: string, prefix = ''): string {
  return error.issues
    .map((i) => `${i.path.length ? prefix + i.path.join('.') : root}: ${i.message}`)
    .join('; ');
}
