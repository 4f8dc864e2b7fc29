/**
 * The plan as a DAG: node boxes and edge routes laid out by dagre (left to right), pure data for
 * the SVG view to draw. Steps arrive in topological order; edges go from a dependency to its
 * dependent.
 */
import dagre from '@dagrejs/dagre';

export interface GraphStep {
  id: string;
  agent: string;
  dependsOn: string[];
  status: string;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  /** A fan-out step's progress (GET /tasks/{id}): drawn as one node with a progress bar. */
  fanOut?: { total: number; succeeded: number; failed: number; running: number; pending: number };
}

/** A fan-out node's progress bar: the widths of its succeeded, failed and running parts (whole pixels). */
export function fanOutBar(
  p: NonNullable<GraphStep['fanOut']>,
  width: number,
): { succeeded: number; failed: number; running: number; label: string } {
  const part = (n: number) => (p.total > 0 ? Math.round((n / p.total) * width) : 0);
  const succeeded = part(p.succeeded);
  const failed = Math.min(width - succeeded, part(p.failed));
  const running = Math.min(width - succeeded - failed, part(p.running));
  const label =
    `${p.succeeded + p.failed}/${p.total} done` +
    (p.failed ? ` · ${p.failed} failed` : '') +
    (p.running ? ` · ${p.running} running` : '');
  return { succeeded, failed, running, label };
}

export interface LaidOutNode {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  step: GraphStep;
}
export interface LaidOutEdge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}
export interface GraphLayout {
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 204;
export const NODE_HEIGHT = 78;
const MARGIN = 16;

/** Lays out the steps; an edge to a step that is not in the plan is left out. */
export function layoutPlan(steps: readonly GraphStep[]): GraphLayout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) g.setNode(s.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const edges: { from: string; to: string }[] = [];
  for (const s of steps)
    for (const d of s.dependsOn)
      if (ids.has(d)) {
        g.setEdge(d, s.id);
        edges.push({ from: d, to: s.id });
      }
  dagre.layout(g);
  const graph = g.graph() as { width?: number; height?: number };
  return {
    nodes: steps.map((step) => {
      const n = g.node(step.id) as { x: number; y: number; width: number; height: number };
      // dagre gives centres; the view draws from the top-left corner.
      return {
        id: step.id,
        x: n.x - n.width / 2,
        y: n.y - n.height / 2,
        width: n.width,
        height: n.height,
        step,
      };
    }),
    edges: edges.map((e) => ({
      ...e,
      points: ((g.edge(e.from, e.to) as { points?: { x: number; y: number }[] }).points ?? []).map((p) => ({
        x: p.x,
        y: p.y,
      })),
    })),
    width: Math.max(graph.width ?? 0, NODE_WIDTH + 2 * MARGIN),
    height: Math.max(graph.height ?? 0, NODE_HEIGHT + 2 * MARGIN),
  };
}

/** A step's duration in milliseconds: start to end, or to `now` while it runs. */
export function stepDurationMs(
  step: Pick<GraphStep, 'startedAt' | 'endedAt'>,
  now: number,
): number | undefined {
  if (!step.startedAt) return undefined;
  const start = Date.parse(step.startedAt);
  const end = step.endedAt ? Date.parse(step.endedAt) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

/** 850 -> "850 ms", 12_300 -> "12.3 s", 125_000 -> "2 min 5 s" */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** An SVG path through the edge's points. */
export function edgePath(points: readonly { x: number; y: number }[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
}
