/** Helpers the built-in agents share: input parsing, upstream text, tool errors, the live model. */
import * as z from 'zod';
import {
  type AgentContext,
  type AgentInput,
  type ArtifactRef,
  type Json,
  JsonValue,
} from '../core/schemas.js';
import type { ModelProvider } from '../models/types.js';
import { ToolError } from '../tools/errors.js';

/** Step input fields every built-in agent accepts. */
export const BaseInput = z.object({
  /** Token budget of this step attempt (model calls). */
  tokenBudget: z.number().int().positive().optional(),
  /** Turns of the tool-use loop when a model is configured (default 6). */
  maxTurns: z.number().int().min(1).max(20).optional(),
  /** A fan-out step's item (`forEach`): the item runner adds it, with its index, to the step's input. */
  item: JsonValue.optional(),
  index: z.number().int().min(0).optional(),
});

/**
 * What a fan-out item is about, as text: a string item itself, else its name, title, topic, key
 * or url field, else its JSON (the first 1000 characters).
 */
export function itemText(item: Json | undefined): string | undefined {
  if (item === undefined || item === null) return undefined;
  if (typeof item === 'string') return item.slice(0, 1000) || undefined;
  if (typeof item === 'object' && !Array.isArray(item)) {
    for (const k of ['name', 'title', 'topic', 'company', 'key', 'url']) {
      const v = item[k];
      if (typeof v === 'string' && v.trim()) return v.trim().slice(0, 1000);
    }
  }
  return JSON.stringify(item).slice(0, 1000);
}

export const DEFAULT_MAX_TURNS = 6;

/** The model when it is a real one (an LLM); undefined for the offline provider or none. */
export function liveModel(ctx: AgentContext): ModelProvider | undefined {
  return ctx.model && !ctx.model.deterministic ? ctx.model : undefined;
}

/** The tool error behind an error thrown by `ctx.tools.call` (which wraps it for Step Functions). */
export function toolErrorOf(err: unknown): ToolError | undefined {
  if (err instanceof ToolError) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof ToolError ? cause : undefined;
}

export const TEXT_CONTENT = /^(text\/|application\/(json|xml|yaml|csv)|[^;]*\+json)/i;

export interface UpstreamText {
  stepId: string;
  agent: string;
  ref: ArtifactRef;
  text: string;
}

/** The text artifacts of the upstream steps, in dependency order. */
export async function upstreamTexts(input: AgentInput, ctx: AgentContext): Promise<UpstreamText[]> {
  const out: UpstreamText[] = [];
  for (const up of input.upstream) {
    for (const ref of up.artifacts) {
      if (!TEXT_CONTENT.test(ref.contentType)) continue;
      const text = Buffer.from(await ctx.readArtifact(ref)).toString('utf8');
      out.push({ stepId: up.stepId, agent: up.agent, ref, text });
    }
  }
  return out;
}

/** Words of a text (whitespace-separated). */
export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** The last `max` characters of a text, marked when cut. */
export function tail(text: string, max = 2000): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

/** Escapes a value for CSV (RFC 4180). */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'string' ? value : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `${[columns.map(csvCell).join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n')}\n`;
}
