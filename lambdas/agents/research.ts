/**
 * Research agent (offline path): finds the passages of the task's documents that match the
 * step's topic and writes cited notes. Documents come from `inputs.documents: [{ title, text }]`.
 * It makes no claim it cannot source: without documents it says so.
 */
import { z } from 'zod';
import { NonRetryableError } from '../core/errors.js';
import type { AgentHandler } from '../core/schemas.js';

const ResearchInput = z.object({ topic: z.string().min(1).max(1000).optional() }).passthrough();
const Documents = z.array(z.object({ title: z.string(), text: z.string() })).max(200);

const STOP = new Set(['the', 'and', 'for', 'with', 'that', 'this', 'from', 'into', 'about', 'research', 'write', 'brief']);

export function keywords(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[a-z0-9][a-z0-9-]{2,}/g) ?? [])].filter((w) => !STOP.has(w));
}

export const handler: AgentHandler = async (input) => {
  const parsed = ResearchInput.safeParse(input.input);
  if (!parsed.success) throw new NonRetryableError(`research input is not valid: ${parsed.error.issues[0]?.message}`);
  const topic = parsed.data.topic ?? input.goal;
  const docs = Documents.safeParse(input.inputs.documents ?? []);
  if (!docs.success) throw new NonRetryableError('inputs.documents must be a list of { title, text }');
  const terms = keywords(topic);

  const findings: { source: number; sentence: string; score: number }[] = [];
  docs.data.forEach((doc, i) => {
    for (const sentence of doc.text.split(/(?<=[.!?])\s+/)) {
      const lower = sentence.toLowerCase();
      const score = terms.filter((t) => lower.includes(t)).length;
      if (score > 0) findings.push({ source: i, sentence: sentence.trim(), score });
    }
  });
  findings.sort((a, b) => b.score - a.score || a.source - b.source);
  const top = findings.slice(0, 12);
  const cited = [...new Set(top.map((f) => f.source))].sort((a, b) => a - b);

  const lines = [`# Research notes: ${topic}`, ''];
  if (top.length === 0) {
    lines.push(`No supplied document mentions ${terms.join(', ') || 'the topic'}; nothing here is sourced.`);
  } else {
    for (const f of top) lines.push(`- ${f.sentence} [${f.source + 1}]`);
    lines.push('', '## Sources', ...cited.map((i) => `[${i + 1}] ${docs.data[i]?.title}`));
  }
  return {
    summary:
      top.length === 0
        ? `No sourced findings on "${topic}" (offline research, ${docs.data.length} documents searched)`
        : `${top.length} cited findings on "${topic}" from ${cited.length} of ${docs.data.length} documents (offline research)`,
    output: { topic, findings: top.length, sources: cited.map((i) => docs.data[i]?.title ?? '') },
    artifacts: [{ name: 'notes.md', contentType: 'text/markdown', body: `${lines.join('\n')}\n` }],
  };
};
