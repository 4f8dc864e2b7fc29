/**
 * The planner: turns a task's goal into a validated plan (an explicit plan always wins: planTask
 * only plans when none is stored).
 *
 * - With a model (BATON_MODEL_CONFIG names Bedrock or an OpenAI-compatible endpoint): structured
 *   output (`generateObject` with the PlanSpec zod schema), then the same validation as a
 *   submitted plan (`planIssues`) plus the built-in agents' input contracts; on problems the model
 *   is shown them and asked once more; a plan still invalid fails planning with the problems.
 *   Every model call is a ModelCalled event.
 * - Without one: the deterministic rule-based planner (offline-planner.ts), which says so.
 */

import * as z from 'zod';
import { type AuditEvent, type AuditSink, auditedModel } from '../agents/audit.js';
import { builtinAgent } from '../agents/builtin.js';
import { NonRetryableError } from '../core/errors.js';
import { planIssues, validatePlan } from '../core/plan.js';
import { type Json, type Plan, PlanSpec } from '../core/schemas.js';
import type { Telemetry } from '../core/telemetry.js';
import { withBudget } from '../models/budget.js';
import { type ModelFactories, modelConfigFromEnv, providerFrom } from '../models/config.js';
import { tracedModel } from '../models/traced.js';
import { type ChatMessage, generateObject, type ModelProvider } from '../models/types.js';
import { planFromGoal } from './offline-planner.js';

export const PLANNER_SYSTEM_PROMPT = [
  "You are the planner of Baton, a multi-agent platform. You turn a task's goal into a plan: a DAG of steps,",
  'each run by one agent with a JSON input. Steps whose inputs do not depend on each other must not depend on',
  'each other, so they run in parallel (e.g. research several topics or sources at once, then one writing step',
  'that depends on all of them, then a review step). Use only the agents listed, with inputs that match their',
  'input schemas. Step ids: letters, digits, "-" or "_". Keep plans small (usually 2-8 steps).',
  'A step sees the outputs and artifacts of the steps it depends on, and the task inputs.',
  'When the goal asks for something for each or every row, item, record or file of a dataset, use ONE step',
  'with "forEach": { "items": "inputs.datasets.<name>" | "steps.<id>.output.<field>" | "steps.<id>.artifacts.<name>" }',
  '(its agent runs once per item, with the item as input.item), never one step per item.',
].join(' ');

export interface PlanGoalOptions {
  goal: string;
  inputs: Record<string, Json>;
  knownAgents: ReadonlySet<string>;
  /** A real model (not deterministic); without one the rule-based planner plans. */
  model?: ModelProvider;
  /** Descriptions of registered agents, by name (built-ins have their own). */
  descriptions?: Record<string, string>;
}

/** Problems of a plan's step inputs for built-in agents (their zod input contracts). */
export function inputIssues(spec: PlanSpec): string[] {
  return spec.steps.flatMap((s, i) => {
    const schema = builtinAgent(s.agent)?.input;
    if (!schema) return [];
    const r = schema.safeParse(s.input ?? {});
    return r.success
      ? []
      : r.error.issues.map(
          (x) =>
            `plan.steps[${i}].input${x.path.length ? `.${x.path.join('.')}` : ''}: ${x.message} (agent ${s.agent})`,
        );
  });
}

/** The task inputs as the model sees them: names, titles and sizes, never the bodies. */
export function describeInputs(inputs: Record<string, Json>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(inputs)) {
    if (Array.isArray(value)) {
      const items = value.slice(0, 20).map((v) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const label = v.name ?? v.title ?? v.path ?? v.url;
          const body =
            typeof v.body === 'string'
              ? v.body
              : typeof v.text === 'string'
                ? v.text
                : typeof v.content === 'string'
                  ? v.content
                  : '';
          const header =
            typeof v.body === 'string' && v.contentType === 'text/csv'
              ? `, columns: ${v.body.split(/\r?\n/)[0]}`
              : '';
          return `${String(label ?? 'item')} (${body.length} chars${header})`;
        }
        return JSON.stringify(v).slice(0, 200);
      });
      lines.push(`- ${key}: ${value.length} item(s): ${items.join('; ')}`);
    } else {
      lines.push(`- ${key}: ${JSON.stringify(value).slice(0, 300)}`);
    }
  }
  return lines.length ? lines.join('\n') : '(none)';
}

function catalog(known: ReadonlySet<string>, descriptions: Record<string, string> = {}): string {
  return [...known]
    .sort()
    .map((name) => {
      const builtin = builtinAgent(name);
      const schema = builtin?.input;
      const input = schema
        ? JSON.stringify(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }))
        : 'any JSON object';
      return `- ${name}: ${builtin?.description ?? descriptions[name] ?? 'registered agent'}. Input schema: ${input}`;
    })
    .join('\n');
}

async function planWithModel(o: PlanGoalOptions & { model: ModelProvider }): Promise<Plan> {
  const messages: ChatMessage[] = [
    {
      role: 'system',
      content: `${PLANNER_SYSTEM_PROMPT}\n\nAgents:\n${catalog(o.knownAgents, o.descriptions)}`,
    },
    { role: 'user', content: `Goal: ${o.goal}\n\nTask inputs:\n${describeInputs(o.inputs)}` },
  ];
  const problems = (spec: PlanSpec) => [
    ...planIssues(spec, o.knownAgents, o.inputs).map((i) => `${i.path}: ${i.message}`),
    ...inputIssues(spec),
  ];
  const first = await generateObject(o.model, { messages }, PlanSpec);
  let spec = first.value;
  let issues = problems(spec);
  const firstIssues = issues;
  if (issues.length > 0) {
    const again = await generateObject(
      o.model,
      {
        messages: [
          ...messages,
          { role: 'assistant', content: JSON.stringify(spec) },
          {
            role: 'user',
            content: [
              'That plan is not valid:',
              ...issues.map((i) => `- ${i}`),
              'Reply with a corrected plan.',
            ].join('\n'),
          },
        ],
      },
      PlanSpec,
    );
    spec = again.value;
    issues = problems(spec);
    if (issues.length > 0) {
      throw new NonRetryableError(
        `The plan made by ${o.model.id} is still not valid after one re-ask: ${issues.join('; ')}`,
      );
    }
  }
  return validatePlan(spec, {
    knownAgents: o.knownAgents,
    inputs: o.inputs,
    source: 'planner:model',
    rationale:
      `Planned by ${o.model.id} with structured output (PlanSpec), validated like a submitted plan` +
      (firstIssues.length ? `; re-asked once after: ${firstIssues.slice(0, 5).join('; ')}` : '') +
      '.',
  });
}

/** A plan for the goal: by the model when there is a real one, else by rules. */
export async function planGoal(o: PlanGoalOptions): Promise<Plan> {
  if (o.model && !o.model.deterministic) return planWithModel({ ...o, model: o.model });
  const made = planFromGoal(o.goal, o.knownAgents, o.inputs);
  return validatePlan(made.spec, {
    knownAgents: o.knownAgents,
    inputs: o.inputs,
    source: 'planner:offline',
    rationale: made.rationale,
  });
}

let envModel: { model?: ModelProvider } | undefined;
/**
 * The deployment's model (BATON_MODEL_CONFIG) made with `factories` (the Planner's bundle: the
 * configured provider's), or undefined when it is the offline provider.
 */
export function plannerModelFromEnv(factories: ModelFactories): ModelProvider | undefined {
  if (!envModel) {
    const provider = providerFrom(modelConfigFromEnv(), factories);
    envModel = provider.deterministic ? {} : { model: provider };
  }
  return envModel.model;
}

export interface PlannerStore {
  getInputs(taskId: string): Promise<Record<string, Json>>;
  appendEvent(e: AuditEvent): Promise<unknown>;
}

/** Plans a stored task (planTask's use): model calls are recorded as the task's ModelCalled events. */
export async function planForTask(
  store: PlannerStore,
  task: { taskId: string; goal: string; traceId: string },
  run: number,
  knownAgents: ReadonlySet<string>,
  options: { model?: ModelProvider; models?: ModelFactories; telemetry?: Telemetry } = {},
): Promise<Plan> {
  const inputs = await store.getInputs(task.taskId);
  const raw = 'model' in options ? options.model : plannerModelFromEnv(options.models ?? {});
  let model: ModelProvider | undefined;
  if (raw && !raw.deterministic) {
    const sink: AuditSink = async (e) => {
      await store.appendEvent(e);
    };
    const budgeted = withBudget(raw, { onCall: (r) => audited.onCall(r) });
    const audited = auditedModel(budgeted, { taskId: task.taskId, traceId: task.traceId, run }, sink);
    model = options.telemetry ? tracedModel(audited.model, options.telemetry, 'planner') : audited.model;
  }
  return planGoal({ goal: task.goal, inputs, knownAgents, ...(model ? { model } : {}) });
}
