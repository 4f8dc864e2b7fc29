/**
 * Writing agent (offline path): composes one document from its upstream steps: their summaries
 * and their text artifacts, in dependency order, with a title from the step input or the goal.
 */
import { z } from 'zod';
import { NonRetryableError } from '../core/errors.js';
import type { AgentHandler } from '../core/schemas.js';

const WritingInput = z.object({ title: z.string().min(1).max(300).optional() }).passthrough();
const TEXT = /^(text\/|application\/json)/;

export const handler: AgentHandler = async (input, ctx) => {
  const parsed = WritingInput.safeParse(input.input);
  if (!parsed.success) throw new NonRetryableError(`writing input is not valid: ${parsed.error.issues[0]?.message}`);
  const title = parsed.data.title ?? input.goal;
  const parts = [`# ${title}`, ''];
  let used = 0;
  for (const up of input.upstream) {
    parts.push(`## From ${up.stepId} (${up.agent})`, '', up.summary, '');
    for (const art of up.artifacts.filter((a) => TEXT.test(a.contentType))) {
      const text = Buffer.from(await ctx.readArtifact(art)).toString('utf8');
      parts.push(text.replace(/^# /gm, '### ').trim(), '');
      used += 1;
    }
  }
  if (input.upstream.length === 0) parts.push(`Goal: ${input.goal}`, '');
  const body = `${parts.join('\n').trim()}\n`;
  const words = body.split(/\s+/).filter(Boolean).length;
  return {
    summary: `Composed "${title}" (${words} words) from ${input.upstream.length} upstream steps and ${used} artifacts`,
    output: { title, words, upstream: input.upstream.map((u) => u.stepId) },
    artifacts: [{ name: 'document.md', contentType: 'text/markdown', body }],
  };
};
