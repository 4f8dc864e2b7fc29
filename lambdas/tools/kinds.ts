/**
 * Tool kinds by config section, without any tool's implementation: what an agent's bundle builds
 * its tools with. `BUILTIN_TOOLS` (index.ts) holds every kind; an agent's Lambda entry imports
 * only the kinds its settings name (lib/aws/functions.ts `agentEntryFile`, from `TOOL_MODULES`),
 * so an agent without `db` carries no sql.js and one without `mcp` no MCP SDK.
 */
import * as z from 'zod';
import { NonRetryableError } from '../core/errors.js';
import type { ToolKind, ToolSet } from './define.js';
import type { Tool } from './types.js';

/**
 * Where each kind is defined (module relative to the project root, and its export): the agent
 * entries import a kind from here. `BUILTIN_TOOLS` has the same sections, in this order (the
 * order tools are listed in).
 */
export const TOOL_MODULES = {
  http: { path: 'lambdas/tools/http.ts', exportName: 'httpTool' },
  shell: { path: 'lambdas/tools/shell.ts', exportName: 'shellTool' },
  db: { path: 'lambdas/tools/db.ts', exportName: 'dbTool' },
  search: { path: 'lambdas/tools/search.ts', exportName: 'searchTool' },
  mcp: { path: 'lambdas/tools/mcp.ts', exportName: 'mcpTools' },
} as const;
export type ToolSection = keyof typeof TOOL_MODULES;
export const TOOL_SECTIONS = Object.keys(TOOL_MODULES) as ToolSection[];

/** The kinds at hand, by section: every one (BUILTIN_TOOLS) or an agent bundle's own. */
export type ToolKinds = { readonly [K in ToolSection]?: ToolKind };

/** The sections of `config` that are set, in TOOL_SECTIONS order. */
export function configuredSections(config: Partial<Record<ToolSection, unknown>>): ToolSection[] {
  return TOOL_SECTIONS.filter((name) => config[name] !== undefined);
}

/**
 * The kind of a configured section. A section whose kind is not at hand (settings changed after
 * the bundle was built) fails for good, naming both: another attempt would fail the same way.
 */
function kindOf(kinds: ToolKinds, name: ToolSection): ToolKind {
  const kind = kinds[name];
  if (kind) return kind;
  const present = TOOL_SECTIONS.filter((s) => kinds[s]);
  throw new NonRetryableError(
    `The tools.${name} section is configured, but this bundle was built without the ${name} tool (it has: ${present.join(', ') || 'none'}); synthesize and deploy again from the same settings`,
  );
}

/** Calls `fn` with each configured section and its kind, in TOOL_SECTIONS order. */
export function eachSection(
  config: Partial<Record<ToolSection, unknown>>,
  kinds: ToolKinds,
  fn: (kind: ToolKind, section: unknown, name: ToolSection) => void,
): void {
  for (const name of configuredSections(config)) fn(kindOf(kinds, name), config[name], name);
}

/**
 * The schema of a `tools` config over the kinds at hand: one optional section per kind, each
 * the kind's own config schema; a section of another kind is refused (strict).
 */
export function toolSectionsSchema(kinds: ToolKinds) {
  const shape: Record<string, z.ZodOptional<z.ZodType>> = {};
  for (const name of TOOL_SECTIONS) {
    const kind = kinds[name];
    if (kind) shape[name] = kind.config.optional();
  }
  return z.object(shape).strict();
}

/** The tools named in `config`, built by their kinds; all or none (MCP connections closed on failure). */
export async function buildToolSet(
  config: Partial<Record<ToolSection, unknown>>,
  kinds: ToolKinds,
): Promise<ToolSet> {
  const pending: Promise<ToolSet>[] = [];
  eachSection(config, kinds, (kind, section) => pending.push(kind.build(section)));
  const settled = await Promise.allSettled(pending);
  const sets = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const close = async () => {
    await Promise.allSettled(sets.splice(0).map((set) => set.close()));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  const tools: Tool[] = sets.flatMap((set) => set.tools);
  return { tools, close };
}
