/** Small pieces every page uses. */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError } from './api.js';

/** Calls `fn` every `ms` while the page is open (and once at once). */
export function useInterval(fn: () => void, ms: number, deps: unknown[] = []): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    saved.current();
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, deps);
}

export const statusLabel = (s: string) => s.replace(/_/g, ' ').toLowerCase();

export function StatusBadge({ status }: { status: string }) {
  return html`<span class="badge" data-status=${status}>${statusLabel(status)}</span>`;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as ApiError;
  return html`<div class="error" role="alert">
    <p><strong>${e instanceof ApiError ? `${e.status || ''} ${e.title}`.trim() : 'Error'}</strong>: ${
      e instanceof ApiError ? e.detail : String((error as Error).message ?? error)
    }</p>
    ${
      e instanceof ApiError && e.issues.length
        ? html`<ul>${e.issues.map((i) => html`<li><code>${i.path}</code>: ${i.message}</li>`)}</ul>`
        : null
    }
  </div>`;
}

export const when = (iso?: string) => (iso ? new Date(iso).toLocaleString() : '');
