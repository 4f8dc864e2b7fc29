/**
 * An agent's settings as deployed (BATON_AGENT_SETTINGS on its function): what the bundle can use
 * in Lambda, with nothing of the synth machine in it and no secret in it.
 *
 * - `tools.db.wasmPath` is dropped: the bundle of an agent with the db tool carries sql.js's
 *   wasm beside it (functions.ts SQL_WASM) and a path on the synth machine would not exist in
 *   Lambda.
 * - Inline secrets are refused (`assertNoInlineSecrets`): a model `apiKey`, an MCP server's
 *   credential headers or credential environment variables would sit in plain Lambda
 *   environment variables and in the CloudFormation template, readable by anyone who can read
 *   either.
 */

import type { AgentSettings } from '../../lambdas/agents/settings.js';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import type { ModelConfig } from '../../lambdas/models/index.js';

/** A secret written inline where the stack would put it into the template; found at synth. */
export class InlineSecretError extends BatonError {
  constructor(message: string) {
    super(message);
    this.name = ErrorNames.InlineSecret;
  }
}

/** Header and variable names that carry credentials. */
const CREDENTIAL_NAME = /authorization|cookie|token|secret|password|api[-_]?key|credential|session/i;

/** Throws InlineSecretError naming where a secret is written inline and what to use instead. */
export function assertNoInlineSecrets(
  where: string,
  config: { model?: ModelConfig; settings?: AgentSettings },
): void {
  const found: string[] = [];
  if (config.model && 'apiKey' in config.model && config.model.apiKey) found.push(`${where}: apiKey`);
  const settings = config.settings;
  if (settings?.model?.apiKey) found.push(`${where}: model.apiKey`);
  for (const server of settings?.tools.mcp ?? []) {
    const named =
      server.transport === 'http' ? Object.keys(server.headers ?? {}) : Object.keys(server.env ?? {});
    for (const name of named.filter((n) => CREDENTIAL_NAME.test(n))) {
      found.push(
        `${where}: tools.mcp "${server.name}" ${server.transport === 'http' ? 'header' : 'env'} ${name}`,
      );
    }
  }
  if (found.length === 0) return;
  throw new InlineSecretError(
    `Secrets written inline would land in plain Lambda environment variables and the CloudFormation template: ${found.join('; ')}. ` +
      'Give a model key as apiKeyEnv (the name of a variable, not its value), and keep MCP credentials in ' +
      'SSM Parameter Store (SecureString) or Secrets Manager, read by the server itself; see README "Secrets".',
  );
}

/** A file or folder of the synth machine copied into an agent's bundle (functions.ts bundleFiles). */
export interface BundleFile {
  from: string;
  /** Relative to the bundle's folder. */
  to: string;
}

/** Where the stack copies an agent's configured folders inside its bundle. */
export const BUNDLED_FILES_DIR = 'files';

/**
 * The settings as deployed, and the files its bundle must carry:
 * - `tools.db.wasmPath` dropped (the bundle carries sql.js's wasm);
 * - `tools.search.corpusDir` and each stdio MCP server's `cwd` copied into the bundle under
 *   `files/` and given relative to the bundle (lambdas/agents/lambda.ts resolves them against
 *   the bundle's folder), so the template holds no path of the synth machine.
 */
export function deployedSettings(settings: AgentSettings): { settings: AgentSettings; files: BundleFile[] } {
  const files: BundleFile[] = [];
  const bundled = (from: string, label: string): string => {
    const to = `${BUNDLED_FILES_DIR}/${files.length}-${label.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    files.push({ from, to });
    return `./${to}`;
  };
  const { db, search, mcp, ...rest } = settings.tools;
  const tools: AgentSettings['tools'] = { ...rest };
  if (db) {
    const { wasmPath: _synthMachinePath, ...dbConfig } = db;
    tools.db = dbConfig;
  }
  if (search)
    tools.search = search.corpusDir ? { ...search, corpusDir: bundled(search.corpusDir, 'corpus') } : search;
  if (mcp) {
    tools.mcp = mcp.map((m) =>
      m.transport === 'stdio' && m.cwd ? { ...m, cwd: bundled(m.cwd, `mcp-${m.name}`) } : m,
    );
  }
  return { settings: { ...settings, tools }, files };
}
