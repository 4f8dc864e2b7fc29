/**
 * The deterministic planner used when no model is configured. It maps common intents to DAGs
 * with real parallelism and is honest about it: the plan's rationale says it was made by rules,
 * not by a model, and what runs in parallel.
 *
 * The goal is split into parts ("X; Y", "X, then Y", "X and write Y", ...); each part is an intent:
 * - research ("research/compare/investigate X (and Y)"): one research step per topic, in parallel;
 *   a single topic is researched from two angles at once (how it works and its benefits / its
 *   cost, limits and risks), so even one topic gets two real, different searches;
 * - data ("analyse the CSV / dataset", or task `inputs.datasets`): one data step per dataset, in
 *   parallel, with a groupBy/aggregate spec when the goal names columns of the data;
 * - code ("write code / implement / script"): a coding step (then a review of its result);
 * - write ("write a brief / report", "summarise"): a writing step over everything before it;
 * - review ("review / check it"): a review step over the last written document;
 * - fan-out ("research each of these companies", "summarise every file under s3://b/p/", "classify
 *   each row of the CSV", with a task dataset or an s3:// prefix): one fan-out step (`forEach`)
 *   whose agent runs once per row / element / object, its results then written up.
 * Research and data results that no write part consumes get a writing step; independent parts
 * become parallel branches.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { type Json, LIMITS, type PlanSpec, type StepSpec } from '../core/schemas.js';

export interface PlannerResult {
  spec: PlanSpec;
  rationale: string;
}

type Kind = 'research' | 'data' | 'code' | 'write' | 'review' | 'fanout';

const ACTION =
  '(?:write|draft|compose|summari[sz]e|review|check|verify|proofread|analy[sz]e|implement|code|build|create|produce|prepare|research|investigate|compare|run|test|fact-check)';
/** "X and write Y": an "and" (or a comma) followed by a new action starts a new part. */
const PART_SPLIT = new RegExp(
  `(?:\\s*,\\s*(?:and\\s+|also\\s+)?|\\s+(?:and|also)\\s+)(?=(?:then\\s+)?${ACTION}\\b)`,
  'i',
);

const RESEARCH_VERBS =
  /^(?:please\s+)?(?:research|investigate|look\s+into|find\s+out\s+about|find\s+out|find|gather\s+(?:information|material|sources|facts)\s+(?:on|about)|study|explore|compare|survey|read\s+up\s+on|learn\s+about|summari[sz]e)\s+/i;
const LOCATION =
  /\s+(?:in|from|using|within|across|based\s+on)\s+(?:\.{0,2}\/\S*|the\s+(?:docs|documents|corpus|documentation|files|knowledge\s+base|sources)|our\s+(?:docs|documents|files)|docs)\b.*$/i;
const KEEP_TOGETHER = [
  'pros and cons',
  'strengths and weaknesses',
  'advantages and disadvantages',
  'costs and benefits',
  'risks and benefits',
  'research and development',
];

/** The two angles a single research topic is searched from, in parallel. */
export const FACETS = ['how it works, efficiency and benefits', 'cost, limits and risks'] as const;

function classify(part: string, inputs: Record<string, Json>): Kind {
  const p = part.toLowerCase();
  if (/^(?:then\s+)?(?:review|check|verify|proofread|critique|validate|assess|fact-check)\b/.test(p))
    return 'review';
  if (/^(?:test|run|execute)\b/.test(p)) return 'code';
  if (
    /\b(?:code|implement|implementation|script|program|function|refactor|unit tests?|algorithm|cli|library)\b/.test(
      p,
    ) &&
    /\b(?:write|implement|build|create|code|develop|fix|make|refactor|test|run)\b/.test(p)
  )
    return 'code';
  if (
    /\b(?:analy[sz]e|analysis|dataset|data set|data|csv|spreadsheet|statistics|aggregate)\b/.test(p) &&
    !/^(?:then\s+)?(?:write|draft|compose)\b/.test(p)
  )
    return 'data';
  if (/^(?:then\s+)?(?:write|draft|compose|prepare|produce|create|summari[sz]e)\b/.test(p)) return 'write';
  if (
    Array.isArray(inputs.datasets) &&
    inputs.datasets.length > 0 &&
    /\b(?:revenue|sales|total|average|count|sum)\b/.test(p)
  )
    return 'data';
  return 'research';
}

/** The branches of a goal (split on ";", new lines and sentences), each a sequence of parts. */
export function goalBranches(goal: string): string[][] {
  return goal
    .replace(/\r/g, '')
    .split(/\s*(?:;|\n|\.\s+(?=[A-Z]))\s*/)
    .map((branch) =>
      branch
        .replace(/\s+/g, ' ')
        .split(/\s*(?:,?\s+and\s+then\s+|,?\s+then\s+|,\s+after\s+that\s+)\s*/i)
        .flatMap((clause) => clause.split(PART_SPLIT))
        .map((p) =>
          p
            .replace(/^(?:then|and|also)\s+/i, '')
            .replace(/[.!?,]+$/, '')
            .trim(),
        )
        .filter((p) => p.length > 2),
    )
    .filter((b) => b.length > 0);
}

/** The parts of a goal, in order. */
export function goalParts(goal: string): string[] {
  return goalBranches(goal).flat();
}

/** Topics of a research part: the verb and any "in ./docs" removed, split on "and", ",", "vs". */
export function researchTopics(part: string): string[] {
  let text = part.replace(RESEARCH_VERBS, '').replace(LOCATION, '').trim();
  const kept = new Map<string, string>();
  KEEP_TOGETHER.forEach((phrase, i) => {
    const re = new RegExp(phrase, 'ig');
    text = text.replace(re, (m) => {
      kept.set(`§${i}§`, m);
      return `§${i}§`;
    });
  });
  const restore = (s: string) => s.replace(/§\d+§/g, (k) => kept.get(k) ?? k);
  const topics = text
    .split(/\s*(?:,|\band\b|\bvs\.?|\bversus\b|&)\s*/i)
    .map((t) =>
      restore(t)
        .replace(/^(?:the|a|an)\s+/i, '')
        .trim(),
    )
    .filter((t) => t.length > 1);
  return (topics.length ? topics : [restore(text) || part]).slice(0, 6);
}

/** The subject of a write part ("write a brief about X" → "X"), if it names one. */
function writeSubject(part: string): string | undefined {
  const m = /\b(?:about|on|of|regarding|covering)\s+(.+)$/i.exec(part);
  return m?.[1]?.replace(LOCATION, '').trim() || undefined;
}

function datasetColumns(d: Json): { name: string; columns: string[] } | undefined {
  if (
    !d ||
    typeof d !== 'object' ||
    Array.isArray(d) ||
    typeof d.name !== 'string' ||
    typeof d.body !== 'string'
  )
    return undefined;
  try {
    if (d.contentType === 'application/json') {
      const rows = JSON.parse(d.body) as unknown;
      const first = Array.isArray(rows) ? rows[0] : undefined;
      return { name: d.name, columns: first && typeof first === 'object' ? Object.keys(first) : [] };
    }
    const [header = []] = parseCsv(d.body, { bom: true, to_line: 1, relax_column_count: true }) as string[][];
    return { name: d.name, columns: header };
  } catch {
    return { name: d.name, columns: [] };
  }
}

function matchColumn(word: string | undefined, columns: string[]): string | undefined {
  if (!word) return undefined;
  const w = word.toLowerCase();
  return columns.find((c) => {
    const k = c.toLowerCase();
    return k === w || `${k}s` === w || k === `${w}s` || k.replace(/[_\s-]/g, '') === w.replace(/[_\s-]/g, '');
  });
}

const AGG_WORDS: Record<string, 'sum' | 'avg' | 'count' | 'min' | 'max'> = {
  total: 'sum',
  sum: 'sum',
  average: 'avg',
  mean: 'avg',
  avg: 'avg',
  count: 'count',
  number: 'count',
  max: 'max',
  maximum: 'max',
  highest: 'max',
  min: 'min',
  minimum: 'min',
  lowest: 'min',
};

/** A groupBy/aggregate spec from the goal's words, when they name columns of the dataset. */
export function dataSpec(goal: string, columns: string[]): Record<string, Json> {
  const by = /\b(?:by|per|for\s+each|for\s+every)\s+([A-Za-z_][\w-]*)/i.exec(goal)?.[1];
  const groupBy = matchColumn(by, columns);
  const agg =
    /\b(total|sum|average|mean|avg|count|number|max(?:imum)?|min(?:imum)?|highest|lowest)\s+(?:of\s+)?(?:the\s+)?([A-Za-z_][\w-]*)/i.exec(
      goal,
    );
  const fn = agg?.[1] ? AGG_WORDS[agg[1].toLowerCase()] : undefined;
  const column = matchColumn(agg?.[2], columns);
  const aggregate: Record<string, Json> | undefined =
    fn === 'count' ? { fn } : fn && column ? { fn, column } : undefined;
  if (!groupBy && !aggregate) return {};
  return { ...(groupBy ? { groupBy } : {}), ...(aggregate ? { aggregate } : { aggregate: { fn: 'count' } }) };
}

interface Draft extends StepSpec {
  kind: Kind;
}

/** "each" / "every" over the items of a part: the task dataset it names (or the only one), or an s3:// prefix in it. */
export function fanOutItems(part: string, datasetNames: readonly string[]): string | undefined {
  if (!/\b(?:each|every)\b/i.test(part)) return undefined;
  const s3 = /\bs3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/\S*/.exec(part)?.[0];
  if (s3) return s3.replace(/[.,;!?)]+$/, '');
  const base = (n: string) => n.replace(/\.[A-Za-z0-9]+$/, '').toLowerCase();
  const named = datasetNames.find((n) => part.toLowerCase().includes(base(n)));
  const name = named ?? (datasetNames.length === 1 ? datasetNames[0] : undefined);
  return name ? `inputs.datasets.${name}` : undefined;
}

/** The agent of a fan-out part, by its verb: research for looking things up, else research too (it reads, cites and summarises). */
function fanOutAgent(part: string, known: ReadonlySet<string>): string {
  if (/^(?:please\s+)?(?:review|check|verify|validate)\b/i.test(part) && known.has('review')) return 'review';
  return 'research';
}

/** Plans the goal with rules. `inputs` (the task's) informs data and code steps. */
export function planFromGoal(
  goal: string,
  knownAgents: ReadonlySet<string>,
  inputs: Record<string, Json> = {},
): PlannerResult {
  const branches = goalBranches(goal).length ? goalBranches(goal) : [[goal.trim()]];
  const steps: Draft[] = [];
  const counters = new Map<Kind, number>();
  const ids: Record<Kind, string> = {
    research: 'research',
    data: 'data',
    code: 'code',
    write: 'write',
    review: 'review',
    fanout: 'each',
  };
  const nextId = (kind: Kind, numbered = false) => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return numbered || n > 1 ? `${ids[kind]}-${n}` : ids[kind];
  };
  const notes: string[] = [];
  let pending: Draft[] = []; // producers not yet consumed by a write step
  let lastWritten: Draft | undefined;
  const datasets = (Array.isArray(inputs.datasets) ? inputs.datasets : [])
    .map(datasetColumns)
    .filter((d) => d !== undefined);
  const researchTopicsUsed: string[] = [];

  const addResearch = (topics: string[]) => {
    if (topics.length === 1) {
      const topic = topics[0] as string;
      researchTopicsUsed.push(topic);
      const made = FACETS.map((focus) => ({
        id: nextId('research', true),
        agent: 'research',
        kind: 'research' as const,
        input: { topic, focus },
      }));
      notes.push(
        `${made.map((s) => s.id).join(' and ')} research "${topic}" in parallel from two angles (${FACETS.join(' / ')})`,
      );
      steps.push(...made);
      pending.push(...made);
      return;
    }
    const made = topics.map((topic) => ({
      id: nextId('research', true),
      agent: 'research',
      kind: 'research' as const,
      input: { topic },
    }));
    researchTopicsUsed.push(...topics);
    notes.push(
      `${made.map((s) => s.id).join(', ')} research ${topics.map((t) => `"${t}"`).join(', ')} in parallel`,
    );
    steps.push(...made);
    pending.push(...made);
  };

  // Results nobody composed: research and data get a writing step, code gets a review.
  const closeBranch = () => {
    const loose = pending.filter((s) => s.kind === 'research' || s.kind === 'data' || s.kind === 'fanout');
    if (loose.length) {
      const step: Draft = {
        id: nextId('write'),
        agent: 'writing',
        kind: 'write',
        input: { title: goal.slice(0, 120) },
        dependsOn: loose.map((s) => s.id),
      };
      notes.push(`${step.id} composes ${loose.map((s) => s.id).join(', ')} into one document`);
      steps.push(step);
    }
    const code = pending.filter((s) => s.kind === 'code' && !steps.some((r) => r.dependsOn?.includes(s.id)));
    for (const c of code) {
      const step: Draft = {
        id: nextId('review'),
        agent: 'review',
        kind: 'review',
        input: { requiredSections: ['Result'], expectOutput: { passed: true } },
        dependsOn: [c.id],
      };
      notes.push(`${step.id} checks that ${c.id} passed`);
      steps.push(step);
    }
    pending = [];
    lastWritten = undefined;
    researchTopicsUsed.length = 0;
  };

  /** Whether a research step feeds `step`, directly or through others. */
  const fedByResearch = (step: Draft | undefined): boolean => {
    const byId = new Map(steps.map((x) => [x.id, x]));
    const seen = new Set<string>();
    const walk = (x: Draft | undefined): boolean => {
      if (!x || seen.has(x.id)) return false;
      seen.add(x.id);
      return x.kind === 'research' || (x.dependsOn ?? []).some((d) => walk(byId.get(d)));
    };
    return walk(step);
  };

  for (const [b, branch] of branches.entries()) {
    // A branch that starts by writing or reviewing continues the one before; others run beside it.
    if (b > 0 && !['write', 'review'].includes(classify(branch[0] as string, inputs))) closeBranch();
    for (const part of branch) {
      const kind = classify(part, inputs);
      const last = steps.at(-1);
      if (/^(?:test|run|execute)\b/i.test(part) && last?.kind === 'code') {
        // "write a script ... and test it": one coding step writes and runs it.
        last.input = {
          ...last.input,
          task: `${String(last.input?.task ?? '')}, then ${part}`.slice(0, 4000),
        };
        continue;
      }
      const items = fanOutItems(
        part,
        datasets.map((d) => d.name),
      );
      if (items && !/^(?:then\s+)?(?:write|draft|compose)\b/i.test(part)) {
        const step: Draft = {
          id: nextId('fanout'),
          agent: fanOutAgent(part, knownAgents),
          kind: 'fanout',
          input: {},
          forEach: { items },
        };
        notes.push(
          `${step.id} runs ${step.agent} once per item of ${items} (a fan-out step, up to ${LIMITS.defaultFanOutConcurrency} at a time)`,
        );
        steps.push(step);
        pending.push(step);
        continue;
      }
      if (kind === 'research') addResearch(researchTopics(part));
      else if (kind === 'data') {
        const targets = datasets.length ? datasets : [undefined];
        const made = targets.map((d) => ({
          id: nextId('data', targets.length > 1),
          agent: 'data',
          kind: 'data' as const,
          input: {
            ...(d && datasets.length > 1 ? { dataset: d.name } : {}),
            ...(d ? dataSpec(goal, d.columns) : {}),
          },
        }));
        notes.push(
          made.length > 1
            ? `${made.map((s) => s.id).join(', ')} analyse ${made.length} datasets in parallel`
            : `${made[0]?.id} analyses ${datasets[0]?.name ?? 'the data'}${Object.keys(made[0]?.input ?? {}).length ? ' with the aggregate the goal names' : ' (a profile of every column)'}`,
        );
        steps.push(...made);
        pending.push(...made);
      } else if (kind === 'code') {
        const step: Draft = {
          id: nextId('code'),
          agent: 'coding',
          kind: 'code',
          input: { task: part.slice(0, 4000) },
        };
        notes.push(`${step.id} writes and runs the code in the shell sandbox`);
        steps.push(step);
        pending.push(step);
      } else if (kind === 'write') {
        if (!pending.some((s) => s.kind !== 'code') && !lastWritten) {
          addResearch(researchTopics(writeSubject(part) ?? goal));
        }
        const brief = /\b(?:brief|one[- ]page|memo|summary|summari[sz]e)\b/i.test(part);
        const onePage = /\bone[- ]page\b/i.test(part);
        const what = brief ? 'Brief' : /\breport\b/i.test(part) ? 'Report' : 'Document';
        const topics = researchTopicsUsed.length ? researchTopicsUsed : [goal];
        const deps = pending.length ? pending : lastWritten ? [lastWritten] : [];
        const step: Draft = {
          id: nextId('write'),
          agent: 'writing',
          kind: 'write',
          input: {
            title: `${what}: ${[...new Set(topics)].join(', ')}`.slice(0, 200),
            format: brief ? 'brief' : 'document',
            ...(onePage ? { maxWords: 500 } : {}),
          },
          dependsOn: deps.map((s) => s.id),
        };
        notes.push(
          `${step.id} composes ${deps.map((s) => s.id).join(', ') || 'the goal'} into ${brief ? `a ${onePage ? 'one-page ' : ''}brief` : 'a document'}`,
        );
        steps.push(step);
        pending = [];
        lastWritten = step;
      } else {
        const target = lastWritten ?? pending.at(-1) ?? steps.at(-1);
        const fromCode = target?.kind === 'code';
        const hasResearch =
          fedByResearch(target) || (target?.kind !== 'write' && pending.some((s) => s.kind === 'research'));
        const input: Record<string, Json> = fromCode
          ? { requiredSections: ['Result'], expectOutput: { passed: true } }
          : {
              ...(target?.kind === 'write' && target.input?.format === 'brief'
                ? { requiredSections: ['Summary', 'Sources'] }
                : {}),
              ...(hasResearch ? { requireCitations: true } : {}),
              ...(target?.kind === 'write' && typeof target.input?.maxWords === 'number'
                ? { maxWords: target.input.maxWords + 200 }
                : {}),
            };
        const deps = target?.kind === 'write' || !pending.length ? (target ? [target] : []) : pending;
        const step: Draft = {
          id: nextId('review'),
          agent: 'review',
          kind: 'review',
          input,
          dependsOn: deps.map((s) => s.id),
        };
        notes.push(
          `${step.id} checks ${deps.map((s) => s.id).join(', ') || 'nothing'}${hasResearch && !fromCode ? ' (sections and citations)' : fromCode ? ' (the run passed)' : ''}`,
        );
        steps.push(step);
        if (target?.kind !== 'write') pending = [];
      }
    }
  }
  closeBranch();

  const final = dropUnknown(steps, knownAgents, notes);
  return {
    spec: { steps: final },
    rationale: `Deterministic rule-based plan (no model configured): ${notes.join('; ')}.`,
  };
}

/** Leaves out steps of agents this deployment does not have; their dependents inherit their dependencies. */
function dropUnknown(steps: Draft[], known: ReadonlySet<string>, notes: string[]): StepSpec[] {
  const dropped = new Map<string, string[]>();
  const out: StepSpec[] = [];
  for (const { kind: _kind, ...s } of steps) {
    const deps = (s.dependsOn ?? []).flatMap((d) => dropped.get(d) ?? [d]);
    if (!known.has(s.agent)) {
      dropped.set(s.id, deps);
      notes.push(`${s.id} left out: no "${s.agent}" agent in this deployment`);
      continue;
    }
    out.push({ ...s, ...(s.dependsOn ? { dependsOn: [...new Set(deps)] } : {}) });
  }
  return out;
}
