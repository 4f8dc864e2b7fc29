/** The task page: the plan as a live DAG, step detail, the timeline, artifacts, cancel and redrive. */
import { html } from 'htm/preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type ArtifactRef,
  cancelTask,
  fetchArtifact,
  followEvents,
  getTask,
  listArtifacts,
  redriveTask,
  type TaskEvent,
  type TaskView,
} from './api.js';
import { edgePath, fanOutBar, formatDuration, type GraphStep, layoutPlan, stepDurationMs } from './graph.js';
import { renderMarkdown } from './markdown.js';
import { formatBytes, MAX_PREVIEW_BYTES, parseCsv, prettyJson, previewKind } from './preview.js';
import { ErrorNote, StatusBadge, statusLabel, useInterval, when } from './ui.js';

type Step = TaskView['plan']['steps'][number];
const TERMINAL = ['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'];

/* ------------------------------------------------------------------ graph */

function PlanGraph({
  steps,
  selected,
  onSelect,
  now,
}: {
  steps: Step[];
  selected?: string;
  onSelect: (id: string) => void;
  now: number;
}) {
  const layout = useMemo(
    () => layoutPlan(steps),
    // The layout depends on the plan's shape only, not on statuses.
    [steps.map((s) => `${s.id}<${s.dependsOn.join(',')}`).join(';')],
  );
  const byId = new Map(steps.map((s) => [s.id, s]));
  if (steps.length === 0) return html`<p>The plan is not made yet.</p>`;
  return html`<div class="graph-wrap" tabindex="0" role="region" aria-label="Plan graph (scrolls sideways)">
    <svg class="graph" role="group" aria-label="Plan graph: steps and their dependencies" viewBox=${`0 0 ${layout.width} ${layout.height}`}
      width=${layout.width} height=${layout.height}>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
        </marker>
      </defs>
      ${layout.edges.map((e) => html`<path class="edge" d=${edgePath(e.points)} marker-end="url(#arrow)" />`)}
      ${layout.nodes.map((n) => {
        const s = byId.get(n.id) ?? n.step;
        const duration = formatDuration(stepDurationMs(s, now));
        return html`<g class=${`node${selected === s.id ? ' selected' : ''}`} data-step=${s.id} data-status=${s.status}
          transform=${`translate(${n.x},${n.y})`} tabindex="0" role="button" aria-pressed=${selected === s.id}
          onClick=${() => onSelect(s.id)}
          onKeyDown=${(e: KeyboardEvent) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              onSelect(s.id);
            }
          }}>
          <rect width=${n.width} height=${n.height} rx="8" />
          <text x="12" y="22" class="node-id">${s.id}</text>
          <text x="12" y="40" class="node-agent">${s.agent}${s.fanOut ? ` · each of ${s.fanOut.total}` : ''}</text>
          ${
            s.fanOut
              ? fanOutNode(s.fanOut, n.width - 24, statusLabel(s.status), duration)
              : html`<text x="12" y="60" class="node-status">${statusLabel(s.status)} · ${s.attempts} att.${duration ? ` · ${duration}` : ''}</text>`
          }
        </g>`;
      })}
    </svg>
  </div>`;
}

/** A fan-out step's node body: its status and counts, and a progress bar (succeeded, failed, running). */
function fanOutNode(p: NonNullable<GraphStep['fanOut']>, width: number, status: string, duration: string) {
  const bar = fanOutBar(p, width);
  return html`<text x="12" y="56" class="node-status">${status} · ${bar.label}${duration ? ` · ${duration}` : ''}</text>
    <g class="fanout-bar" transform="translate(12,62)" role="progressbar" aria-label=${`items: ${bar.label}`}
      aria-valuemin="0" aria-valuemax=${p.total} aria-valuenow=${p.succeeded + p.failed}>
      <rect class="bar-track" width=${width} height="8" rx="3" />
      <rect class="bar-succeeded" width=${bar.succeeded} height="8" rx="3" />
      <rect class="bar-failed" x=${bar.succeeded} width=${bar.failed} height="8" />
      <rect class="bar-running" x=${bar.succeeded + bar.failed} width=${bar.running} height="8" />
    </g>`;
}

/* ------------------------------------------------------------------ step detail */

const Json = ({ value }: { value: unknown }) =>
  html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;

function StepDetail({ step, events, now }: { step: Step; events: TaskEvent[]; now: number }) {
  const own = events.filter((e) => e.stepId === step.id);
  const tools = own.filter((e): e is Extract<TaskEvent, { type: 'ToolCalled' }> => e.type === 'ToolCalled');
  const models = own.filter(
    (e): e is Extract<TaskEvent, { type: 'ModelCalled' }> => e.type === 'ModelCalled',
  );
  const failures = own.filter(
    (e): e is Extract<TaskEvent, { type: 'StepAttemptFailed' }> => e.type === 'StepAttemptFailed',
  );
  const tokens = models.reduce((n, m) => n + m.data.usage.totalTokens, 0);
  return html`<section class="panel step-detail" aria-labelledby="step-h" data-step-detail=${step.id}>
    <h2 id="step-h">Step ${step.id}</h2>
    <dl class="facts">
      <div><dt>Agent</dt><dd>${step.agent}</dd></div>
      <div><dt>Status</dt><dd><${StatusBadge} status=${step.status} /></dd></div>
      <div><dt>Attempts</dt><dd>${step.attempts}</dd></div>
      <div><dt>Duration</dt><dd>${formatDuration(stepDurationMs(step, now)) || '—'}</dd></div>
      <div><dt>Depends on</dt><dd>${step.dependsOn.join(', ') || '—'}</dd></div>
      ${step.approval === 'before' ? html`<div><dt>Approval</dt><dd>before it runs</dd></div>` : null}
      ${
        step.fanOut
          ? html`<div><dt>Items</dt><dd>${step.fanOut.items}: ${fanOutBar(step.fanOut, 100).label}${
              step.fanOut.pending ? ` · ${step.fanOut.pending} pending` : ''
            }${step.fanOut.rerun !== undefined ? ` (this run re-runs ${step.fanOut.rerun})` : ''}</dd></div>`
          : null
      }
    </dl>
    ${step.summary ? html`<h3>Summary</h3><p>${step.summary}</p>` : null}
    <h3>Input</h3>
    <${Json} value=${step.input ?? {}} />
    ${step.output !== undefined ? html`<h3>Output</h3><${Json} value=${step.output} />` : null}
    ${step.error ? html`<h3>Error</h3><p class="error-text"><code>${step.error.name}</code>: ${step.error.message}</p>` : null}
    ${
      failures.length
        ? html`<h3>Failed attempts</h3>
          <ul>${failures.map(
            (f) =>
              html`<li>Attempt ${f.data.attempt} (${f.data.phase}): <code>${f.data.error.name}</code> ${f.data.error.message}${
                f.data.willRetry ? ` — retry in ${f.data.retryInSeconds ?? 0} s` : ''
              }</li>`,
          )}</ul>`
        : null
    }
    <h3>Tool calls</h3>
    ${
      tools.length
        ? html`<table class="calls"><thead><tr><th scope="col">Attempt</th><th scope="col">Tool</th><th scope="col">Outcome</th><th scope="col">Duration</th></tr></thead>
          <tbody>${tools.map(
            (t) => html`<tr><td>${t.data.attempt ?? ''}</td><td><code>${t.data.tool}</code></td>
              <td>${t.data.outcome}${t.data.error ? `: ${t.data.error.message}` : ''}</td><td>${formatDuration(t.data.durationMs)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>None.</p>`
    }
    <h3>Model calls${models.length ? ` (${tokens} tokens)` : ''}</h3>
    ${
      models.length
        ? html`<table class="calls"><thead><tr><th scope="col">Attempt</th><th scope="col">Model</th><th scope="col">Outcome</th>
            <th scope="col">Tokens in</th><th scope="col">Tokens out</th><th scope="col">Total</th><th scope="col">Duration</th></tr></thead>
          <tbody>${models.map(
            (
              m,
            ) => html`<tr><td>${m.data.attempt ?? ''}</td><td><code>${m.data.model}</code></td><td>${m.data.outcome}</td>
              <td>${m.data.usage.inputTokens}</td><td>${m.data.usage.outputTokens}</td><td>${m.data.usage.totalTokens}</td>
              <td>${formatDuration(m.data.durationMs)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>None.</p>`
    }
  </section>`;
}

/* ------------------------------------------------------------------ timeline */

function describe(e: TaskEvent): string {
  switch (e.type) {
    case 'StepStarted':
      return `attempt ${e.data.attempt} on ${e.data.agent}`;
    case 'StepSucceeded':
      return e.data.summary;
    case 'StepAttemptFailed':
      return `${e.data.error.name}: ${e.data.error.message}`;
    case 'StepFailed':
    case 'StepSkipped':
      return e.data.reason;
    case 'ArtifactStored':
      return `${e.data.name} (${formatBytes(e.data.size)})`;
    case 'ToolCalled':
      return `${e.data.tool}: ${e.data.outcome}`;
    case 'ModelCalled':
      return `${e.data.model}: ${e.data.usage.totalTokens} tokens`;
    case 'ApprovalRequested':
      return `${e.data.kind} approval requested`;
    case 'ApprovalDecided':
      return `${e.data.decision} by ${e.data.approver}${e.data.comment ? `: “${e.data.comment}”` : ''}`;
    case 'PlanCreated':
      return `${e.data.steps.length} steps (${e.data.source})`;
    case 'TaskSubmitted':
      return e.data.goal;
    default:
      return '';
  }
}

function Timeline({ events }: { events: TaskEvent[] }) {
  return html`<section class="panel" aria-labelledby="timeline-h">
    <h2 id="timeline-h">Timeline</h2>
    <ol class="timeline" tabindex="0" aria-label="Events, oldest first">
      ${events.map(
        (e) => html`<li data-event=${e.type}>
          <time datetime=${e.at}>${new Date(e.at).toLocaleTimeString()}</time>
          <span class="etype">${e.type}</span>${e.stepId ? html` <span class="estep">${e.stepId}</span>` : null}
          <span class="edesc">${describe(e)}</span>
        </li>`,
      )}
    </ol>
  </section>`;
}

/* ------------------------------------------------------------------ artifacts */

type Preview = {
  artifact: ArtifactRef;
  kind: ReturnType<typeof previewKind>;
  text?: string;
  error?: unknown;
};

function PreviewBody({ p }: { p: Preview }) {
  if (p.error) return html`<${ErrorNote} error=${p.error} />`;
  if (p.text === undefined) return html`<p>Loading…</p>`;
  if (p.kind === 'markdown')
    return html`<div class="markdown" dangerouslySetInnerHTML=${{ __html: renderMarkdown(p.text) }}></div>`;
  if (p.kind === 'json') return html`<pre class="json" tabindex="0">${prettyJson(p.text)}</pre>`;
  if (p.kind === 'csv') {
    const { rows, truncated } = parseCsv(p.text);
    const [head, ...body] = rows;
    return html`<div class="table-wrap" tabindex="0" role="region" aria-label=${`${p.artifact.name} as a table`}><table class="csv">
      <caption class="sr-only">${p.artifact.name}</caption>
      <thead><tr>${(head ?? []).map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${body.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
    </table>${truncated ? html`<p>First ${rows.length} rows shown.</p>` : null}</div>`;
  }
  return html`<pre class="text" tabindex="0">${p.text}</pre>`;
}

function Artifacts({ taskId, artifacts }: { taskId: string; artifacts: ArtifactRef[] }) {
  const [preview, setPreview] = useState<Preview | undefined>();
  const [error, setError] = useState<unknown>();
  const region = useRef<HTMLElement>(null);
  const open = async (a: ArtifactRef) => {
    const kind = previewKind(a.contentType, a.name);
    setPreview({ artifact: a, kind });
    try {
      const blob = await fetchArtifact(taskId, a.id);
      setPreview({ artifact: a, kind, text: await blob.slice(0, MAX_PREVIEW_BYTES).text() });
    } catch (err) {
      setPreview({ artifact: a, kind, error: err });
    }
    region.current?.focus();
  };
  const download = async (a: ArtifactRef) => {
    try {
      const blob = await fetchArtifact(taskId, a.id);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = a.name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="panel" aria-labelledby="artifacts-h">
    <h2 id="artifacts-h">Artifacts</h2>
    <${ErrorNote} error=${error} />
    ${
      artifacts.length === 0
        ? html`<p>None yet.</p>`
        : html`<table class="artifacts"><thead><tr><th scope="col">Name</th><th scope="col">Step</th><th scope="col">Type</th>
            <th scope="col">Size</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${artifacts.map(
            (a) => html`<tr data-artifact=${a.name}>
              <td data-label="Name">${a.name}</td><td data-label="Step">${a.stepId}</td><td data-label="Type">${a.contentType}</td>
              <td data-label="Size">${formatBytes(a.size)}</td>
              <td class="row-actions">
                ${
                  previewKind(a.contentType, a.name) !== 'none' && a.size <= MAX_PREVIEW_BYTES
                    ? html`<button type="button" onClick=${() => open(a)} aria-label=${`Preview ${a.name} of step ${a.stepId}`}>Preview</button>`
                    : null
                }
                <button type="button" onClick=${() => download(a)} aria-label=${`Download ${a.name} of step ${a.stepId}`}>Download</button>
              </td>
            </tr>`,
          )}</tbody></table>`
    }
    ${
      preview
        ? html`<section class="preview" tabindex="-1" ref=${region} aria-labelledby="preview-h" data-preview=${preview.kind}>
            <h3 id="preview-h">${preview.artifact.name} <small>(${preview.kind})</small></h3>
            <${PreviewBody} p=${preview} />
            <button type="button" onClick=${() => setPreview(undefined)}>Close preview</button>
          </section>`
        : null
    }
  </section>`;
}

/* ------------------------------------------------------------------ the page */

export function TaskPage({ taskId }: { taskId: string }) {
  const [view, setView] = useState<TaskView | undefined>();
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [artifacts, setArtifacts] = useState<ArtifactRef[]>([]);
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [selected, setSelected] = useState<string | undefined>();
  const [live, setLive] = useState<'connecting' | 'stream' | 'polling' | 'ended'>('connecting');
  const [feedRun, setFeedRun] = useState(0);
  const [now, setNow] = useState(Date.now());
  const refresh = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const lastSeq = useRef(0);

  const reload = () =>
    Promise.all([getTask(taskId), listArtifacts(taskId)])
      .then(([v, a]) => {
        setView(v);
        setArtifacts(a.artifacts);
        setError(undefined);
      })
      .catch(setError);

  useEffect(() => {
    void reload();
    const feed = followEvents(
      taskId,
      {
        onEvents: (batch) => {
          lastSeq.current = batch.at(-1)?.seq ?? lastSeq.current;
          setEvents((xs) => [...xs, ...batch]);
          setLive(feed.mode());
          // Many events arrive together: one refresh of the folded view for the lot.
          clearTimeout(refresh.current);
          refresh.current = setTimeout(() => void reload(), 150);
        },
        onEnd: () => {
          setLive('ended');
          void reload();
        },
        onError: () => setLive(feed.mode()),
      },
      lastSeq.current,
    );
    return () => {
      feed.close();
      clearTimeout(refresh.current);
    };
  }, [taskId, feedRun]);

  // Durations of running steps tick.
  useInterval(() => setNow(Date.now()), 1000);

  if (!view) return html`<${ErrorNote} error=${error} />${error ? null : html`<p>Loading…</p>`}`;
  const steps = view.plan.steps;
  const step = steps.find((s) => s.id === selected) ?? steps[0];
  const act = async (what: 'cancel' | 'redrive') => {
    setActionError(undefined);
    try {
      if (what === 'cancel') await cancelTask(taskId);
      else {
        await redriveTask(taskId);
        setFeedRun((n) => n + 1);
      }
      await reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<article class="task" data-task=${taskId} data-status=${view.status}>
    <header class="task-head">
      <h1>${view.goal}</h1>
      <div class="task-meta">
        <${StatusBadge} status=${view.status} />
        <span>Task <code>${view.taskId}</code></span>
        <span>Created ${when(view.createdAt)}</span>
        <span class="live" role="status" data-live=${live}>${
          live === 'stream'
            ? 'Live'
            : live === 'polling'
              ? 'Live (polling)'
              : live === 'ended'
                ? 'Ended'
                : 'Connecting…'
        }</span>
      </div>
      <div class="actions">
        ${TERMINAL.includes(view.status) ? null : html`<button type="button" class="danger" onClick=${() => act('cancel')}>Cancel task</button>`}
        ${view.status === 'FAILED' || view.status === 'DEGRADED' ? html`<button type="button" onClick=${() => act('redrive')}>Redrive</button>` : null}
      </div>
      <${ErrorNote} error=${actionError} />
      ${view.error ? html`<p class="error-text"><code>${view.error.name}</code>: ${view.error.message}</p>` : null}
    </header>
    <section class="panel" aria-labelledby="plan-h">
      <h2 id="plan-h">Plan${view.plan.source ? html` <small>(${view.plan.source})</small>` : null}</h2>
      <${PlanGraph} steps=${steps} selected=${step?.id} onSelect=${setSelected} now=${now} />
    </section>
    <div class="columns">
      ${step ? html`<${StepDetail} step=${step} events=${events} now=${now} />` : null}
      <${Artifacts} taskId=${taskId} artifacts=${artifacts} />
    </div>
    <${Timeline} events=${events} />
  </article>`;
}
