/**
 * `defineTool`: one definition per tool kind (http, shell, db, search, mcp). A definition holds
 * the tool's name and description, the zod schema of its config section (the only place its
 * settings are declared: the Baton config's `agents.<name>.tools.<tool>`, the tool runtime's
 * `ToolsConfig` and their types all derive from it), the schema of a call's input, and the
 * factory that builds the tool from a config section.
 *
 *   export const dbTool = defineTool({
 *     name: 'db',
 *     description: 'Read-only SQL over the datasets of the task',
 *     config: DbToolConfig,             // z.object({ maxRows: ..., wasmPath: ... }).strict()
 *     input: DbInput,                   // what a call's arguments look like
 *     paths: (c, abs) => ...,           // config fields that are file paths (optional)
 *     factory: (config, options) => ({ description, handler }),
 *   });
 *
 * A factory's `options` are what a config file cannot hold (a DNS resolver for tests, a corpus
 * read from S3, datasets given in code); the tool runtime builds every tool with none.
 *
 * `defineToolSource` is the same for a config section that yields many tools at once: the MCP
 * servers, whose tools and input schemas come from the servers themselves.
 */
import type * as z from 'zod';
import type { Tool, ToolContext } from './types.js';

/** The tools a config section built, and how to release them (MCP connections). */
export interface ToolSet {
  tools: Tool[];
  /** Releases what the tools hold (MCP connections). Safe to call more than once. */
  close(): Promise<void>;
}

/** What every definition has: what `buildTools`, the settings parser and the allow-list use. */
export interface ToolKind<C extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  /** Schema of the tool's config section. */
  readonly config: C;
  /** Allow-list names this section gives (a tool: its name; MCP: `<server>.*` each). */
  toolNames(config: z.output<C>): string[];
  /** The section with relative file paths made absolute by `absolute`. */
  resolvePaths(config: z.output<C>, absolute: (path: string) => string): z.output<C>;
  /** Builds the section's tools (what `buildTools` calls). */
  build(config: z.output<C>): Promise<ToolSet>;
}

/** What a tool factory returns: the handler, and a description that may state its limits. */
export interface ToolImplementation<I, O> {
  /** Default: the definition's description. */
  description?: string;
  handler(input: I, ctx: ToolContext): Promise<O>;
}

export interface ToolSpec<C extends z.ZodType, I extends z.ZodType, O, Opt> {
  /** The tool's name: its config section, its allow-list entry and the name models call. */
  name: string;
  description: string;
  config: C;
  input: I;
  /** Config fields that are file paths, made absolute against the config file's folder. */
  paths?: (config: z.output<C>, absolute: (path: string) => string) => z.output<C>;
  factory(config: z.output<C>, options: Opt): ToolImplementation<z.output<I>, O>;
}

export interface DefinedTool<C extends z.ZodType, I extends z.ZodType, O, Opt> extends ToolKind<C> {
  readonly input: I;
  /** One tool from a config section (and options a config file cannot hold). */
  create(config: z.output<C>, options?: Opt): Tool<z.output<I>, O>;
}

const noClose = async () => {};

/** Defines a tool kind that builds one tool per config section. */
export function defineTool<C extends z.ZodType, I extends z.ZodType, O, Opt = Record<string, never>>(
  spec: ToolSpec<C, I, O, Opt>,
): DefinedTool<C, I, O, Opt> {
  const create = (config: z.output<C>, options?: Opt): Tool<z.output<I>, O> => {
    const made = spec.factory(config, options ?? ({} as Opt));
    return {
      name: spec.name,
      description: made.description ?? spec.description,
      inputSchema: spec.input as z.ZodType<z.output<I>>,
      handler: made.handler,
    };
  };
  return {
    name: spec.name,
    description: spec.description,
    config: spec.config,
    input: spec.input,
    toolNames: () => [spec.name],
    resolvePaths: (config, absolute) => (spec.paths ? spec.paths(config, absolute) : config),
    create,
    build: async (config) => ({ tools: [create(config) as Tool], close: noClose }),
  };
}

export interface ToolSourceSpec<C extends z.ZodType> {
  name: string;
  description: string;
  config: C;
  toolNames(config: z.output<C>): string[];
  paths?: (config: z.output<C>, absolute: (path: string) => string) => z.output<C>;
  /** Builds (connects) every tool of the section; on failure releases what it opened and throws. */
  factory(config: z.output<C>): Promise<ToolSet>;
}

/** Defines a config section that yields many tools whose schemas come from elsewhere (MCP servers). */
export function defineToolSource<C extends z.ZodType>(spec: ToolSourceSpec<C>): ToolKind<C> {
  return {
    name: spec.name,
    description: spec.description,
    config: spec.config,
    toolNames: spec.toolNames,
    resolvePaths: (config, absolute) => (spec.paths ? spec.paths(config, absolute) : config),
    build: spec.factory,
  };
}
