/** The console's shell and pages: task list, submit form, approvals inbox (the task page: task-page.ts). */
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  type ApprovalListing,
  decideApproval,
  getTask,
  listApprovals,
  listTasks,
  submitTask,
  TASK_STATUSES,
  type TaskStatus,
  type TaskSummary,
} from './api.js';
import { TaskPage } from './task-page.js';
import { ErrorNote, StatusBadge, statusLabel, useInterval, when } from './ui.js';

/* ------------------------------------------------------------------ task list */

function TaskList() {
  const [status, setStatus] = useState<TaskStatus | ''>('');
  const [search, setSearch] = useState('');
  const [tasks, setTasks] = useState<TaskSummary[] | undefined>();
  const [next, setNext] = useState<string | undefined>();
  const [extra, setExtra] = useState<TaskSummary[]>([]);
  const [error, setError] = useState<unknown>();
  useInterval(
    () => {
      listTasks({ ...(status ? { status } : {}) })
        .then((page) => {
          setTasks(page.tasks);
          setNext((n) => n ?? page.next);
          setError(undefined);
        })
        .catch(setError);
    },
    5000,
    [status],
  );
  useEffect(() => {
    setExtra([]);
    setNext(undefined);
  }, [status]);
  const more = async () => {
    if (!next) return;
    try {
      const page = await listTasks({ ...(status ? { status } : {}), cursor: next });
      setExtra((x) => [...x, ...page.tasks]);
      setNext(page.next);
    } catch (err) {
      setError(err);
    }
  };
  const all = useMemo(() => {
    const seen = new Set<string>();
    return [...(tasks ?? []), ...extra].filter((t) => !seen.has(t.taskId) && seen.add(t.taskId));
  }, [tasks, extra]);
  const needle = search.trim().toLowerCase();
  const shown = needle ? all.filter((t) => t.goal.toLowerCase().includes(needle)) : all;
  return html`<section aria-labelledby="tasks-h">
    <h1 id="tasks-h">Tasks</h1>
    <form class="filters" role="search" onSubmit=${(e: Event) => e.preventDefault()}>
      <div class="field">
        <label for="task-search">Search by goal</label>
        <input id="task-search" type="search" value=${search} onInput=${(e: Event) =>
          setSearch((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="task-status">Status</label>
        <select id="task-status" value=${status} onChange=${(e: Event) =>
          setStatus((e.target as HTMLSelectElement).value as TaskStatus | '')}>
          <option value="">All</option>
          ${TASK_STATUSES.map((s) => html`<option value=${s}>${statusLabel(s)}</option>`)}
        </select>
      </div>
    </form>
    <${ErrorNote} error=${error} />
    ${
      tasks === undefined
        ? html`<p>Loading…</p>`
        : shown.length === 0
          ? html`<p>No tasks${needle || status ? ' match' : ' yet'}. <a href="#/new">Submit one</a>.</p>`
          : html`<table class="tasks">
              <caption class="sr-only">Tasks, newest first</caption>
              <thead><tr><th scope="col">Goal</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
              <tbody>
                ${shown.map(
                  (t) => html`<tr data-task=${t.taskId}>
                    <td data-label="Goal"><a href=${`#/tasks/${t.taskId}`}>${t.goal}</a></td>
                    <td data-label="Status"><${StatusBadge} status=${t.status} /></td>
                    <td data-label="Created">${when(t.createdAt)}</td>
                    <td data-label="Updated">${when(t.updatedAt)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
    }
    ${next ? html`<button type="button" onClick=${more}>Load more</button>` : null}
  </section>`;
}

/* ------------------------------------------------------------------ submit */

export const EXAMPLE_PLAN = {
  steps: [
    { id: 'a', agent: 'research', input: { topic: 'solar power' } },
    { id: 'b', agent: 'research', input: { topic: 'solar panels' }, dependsOn: ['a'] },
    { id: 'c', agent: 'research', input: { topic: 'wind power' }, dependsOn: ['a'] },
    { id: 'd', agent: 'writing', input: { title: 'Energy brief' }, dependsOn: ['b', 'c'] },
  ],
};
export const EXAMPLE_INPUTS = {
  documents: [
    { title: 'Solar', text: 'Solar panels are cheap now. Solar output peaks at noon.' },
    { title: 'Wind', text: 'Offshore wind is strong. Wind turbines work at night.' },
  ],
};

/** JSON from a textarea: undefined when empty, a ValidationError-like message otherwise. */
function parseField(label: string, text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(0, 'Invalid JSON', `${label}: ${(err as Error).message}`);
  }
}

function SubmitForm() {
  const [goal, setGoal] = useState('');
  const [plan, setPlan] = useState('');
  const [inputs, setInputs] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const key = useRef(crypto.randomUUID());
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const p = parseField('Plan', plan) as { steps?: unknown } | unknown[] | undefined;
      const i = parseField('Inputs', inputs) as Record<string, unknown> | undefined;
      setBusy(true);
      const res = await submitTask(
        {
          goal,
          ...(p ? { plan: (Array.isArray(p) ? { steps: p } : p) as never } : {}),
          ...(i ? { inputs: i as never } : {}),
        },
        key.current,
      );
      key.current = crypto.randomUUID();
      location.hash = `#/tasks/${res.taskId}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby="new-h">
    <h1 id="new-h">New task</h1>
    <form class="submit" onSubmit=${submit}>
      <div class="field">
        <label for="goal">Goal</label>
        <input id="goal" name="goal" required value=${goal} onInput=${(e: Event) =>
          setGoal((e.target as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for="plan">Plan (JSON, optional)</label>
        <textarea id="plan" name="plan" rows="12" spellcheck="false" aria-describedby="plan-help" value=${plan}
          onInput=${(e: Event) => setPlan((e.target as HTMLTextAreaElement).value)}></textarea>
        <p id="plan-help" class="help">
          <code>{"steps": [{"id", "agent", "input"?, "dependsOn"?, "approval"?: "before"}]}</code>. Leave it
          empty and the planner makes one from the goal.
        </p>
        <p class="help">
          <button type="button" class="link" onClick=${() => {
            setPlan(JSON.stringify(EXAMPLE_PLAN, null, 2));
            setInputs(JSON.stringify(EXAMPLE_INPUTS, null, 2));
            if (!goal) setGoal('Brief on solar and wind power');
          }}>Use the example diamond plan</button>
        </p>
      </div>
      <div class="field">
        <label for="inputs">Inputs (JSON, optional)</label>
        <textarea id="inputs" name="inputs" rows="6" spellcheck="false" aria-describedby="inputs-help" value=${inputs}
          onInput=${(e: Event) => setInputs((e.target as HTMLTextAreaElement).value)}></textarea>
        <p id="inputs-help" class="help">An object every step sees, e.g. <code>{"documents": [...]}</code>.</p>
      </div>
      <${ErrorNote} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Submitting…' : 'Submit task'}</button>
    </form>
  </section>`;
}

/* ------------------------------------------------------------------ approvals */

function ApprovalCard({
  a,
  goal,
  onDecided,
}: {
  a: ApprovalListing;
  goal?: string;
  onDecided: (m: string) => void;
}) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const decide = async (decision: 'approve' | 'reject') => {
    setBusy(true);
    setError(undefined);
    try {
      await decideApproval(a.id, decision, comment.trim() || undefined);
      onDecided(
        `${decision === 'approve' ? 'Approved' : 'Rejected'} ${a.stepId ? `step ${a.stepId}` : 'the plan'} of “${goal ?? a.taskId}”.`,
      );
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const what =
    a.kind === 'plan'
      ? 'the plan'
      : a.kind === 'review'
        ? `a review of step ${a.stepId}`
        : `step ${a.stepId}`;
  const cid = `comment-${a.id}`;
  return html`<li class="card approval" data-approval=${a.id}>
    <h2>Approve ${what}?</h2>
    <p class="goal"><a href=${`#/tasks/${a.taskId}`}>${goal ?? a.taskId}</a></p>
    <dl class="facts">
      <div><dt>Kind</dt><dd>${a.kind}</dd></div>
      <div><dt>Requested</dt><dd>${when(a.requestedAt)}</dd></div>
      <div><dt>Expires</dt><dd>${when(a.expiresAt)}</dd></div>
    </dl>
    <div class="field">
      <label for=${cid}>Comment (optional)</label>
      <textarea id=${cid} rows="2" value=${comment} onInput=${(e: Event) =>
        setComment((e.target as HTMLTextAreaElement).value)}></textarea>
    </div>
    <${ErrorNote} error=${error} />
    <div class="actions">
      <button type="button" class="primary approve" disabled=${busy} onClick=${() => decide('approve')}>Approve</button>
      <button type="button" class="danger reject" disabled=${busy} onClick=${() => decide('reject')}>Reject</button>
      <a class="secondary-link" href=${a.url} target="_blank" rel="noopener">Signed approval page</a>
    </div>
  </li>`;
}

function Approvals() {
  const [items, setItems] = useState<ApprovalListing[] | undefined>();
  const [goals, setGoals] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();
  const load = () =>
    listApprovals('PENDING')
      .then(async (r) => {
        setItems(r.approvals);
        setError(undefined);
        const missing = [...new Set(r.approvals.map((a) => a.taskId))].filter((id) => !(id in goals));
        const found = await Promise.all(
          missing.map((id) =>
            getTask(id).then(
              (t) => [id, t.goal] as const,
              () => [id, id] as const,
            ),
          ),
        );
        if (found.length) setGoals((g) => ({ ...g, ...Object.fromEntries(found) }));
      })
      .catch(setError);
  useInterval(load, 5000);
  return html`<section aria-labelledby="approvals-h">
    <h1 id="approvals-h">Approvals</h1>
    <p role="status" class="notice">${message}</p>
    <${ErrorNote} error=${error} />
    ${
      items === undefined
        ? html`<p>Loading…</p>`
        : items.length === 0
          ? html`<p>Nothing waits for a decision.</p>`
          : html`<ul class="cards">
              ${items.map(
                (a) =>
                  html`<${ApprovalCard} key=${a.id} a=${a} goal=${goals[a.taskId]} onDecided=${(
                    m: string,
                  ) => {
                    setMessage(m);
                    setItems((xs) => xs?.filter((x) => x.id !== a.id));
                    void load();
                  }} />`,
              )}
            </ul>`
    }
  </section>`;
}

/* ------------------------------------------------------------------ shell */

export function useHashRoute(): string {
  const [route, setRoute] = useState(location.hash.replace(/^#/, '') || '/');
  useEffect(() => {
    const on = () => setRoute(location.hash.replace(/^#/, '') || '/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Nav({ route }: { route: string }) {
  const link = (href: string, label: string, active: boolean) =>
    html`<a href=${href} aria-current=${active ? 'page' : undefined}>${label}</a>`;
  return html`<nav aria-label="Main">
    ${link('#/', 'Tasks', route === '/' || route.startsWith('/tasks'))}
    ${link('#/new', 'New task', route === '/new')}
    ${link('#/approvals', 'Approvals', route === '/approvals')}
  </nav>`;
}

export function App({ signOut, who }: { signOut: () => void; who: string }) {
  const route = useHashRoute();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    // A new page: move focus to it, as a full page load would (screen readers announce it).
    main.current?.focus();
  }, [route]);
  let page: ComponentChildren;
  const task = /^\/tasks\/([^/]+)$/.exec(route);
  if (task?.[1]) page = html`<${TaskPage} key=${task[1]} taskId=${decodeURIComponent(task[1])} />`;
  else if (route === '/new') page = html`<${SubmitForm} />`;
  else if (route === '/approvals') page = html`<${Approvals} />`;
  else page = html`<${TaskList} />`;
  return html`<a class="skip" href="#main" onClick=${(e: Event) => {
    e.preventDefault();
    main.current?.focus();
  }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">Baton</a>
      <${Nav} route=${route} />
      <span class="who">${who} <button type="button" class="link" onClick=${signOut}>Sign out</button></span>
    </header>
    <main id="main" tabindex="-1" ref=${main}>${page}</main>`;
}

/** Local mode without a key in the session: ask for it (the runtime prints it, and a URL with it). */
export function KeyForm({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return html`<main id="main" class="signin">
    <h1>Baton console</h1>
    <form onSubmit=${(e: Event) => {
      e.preventDefault();
      if (key.trim()) onKey(key.trim());
    }}>
      <div class="field">
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" required value=${key} aria-describedby="api-key-help"
          onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
        <p id="api-key-help" class="help">In <code>.baton/api-key</code>; <code>npm start</code> also prints a console URL with it. It is kept for this tab only.</p>
      </div>
      <button type="submit" class="primary">Open the console</button>
    </form>
  </main>`;
}
