/**
 * An agent's settings as deployed (BATON_AGENT_SETTINGS on its function): what the bundle can use
 * in Lambda, with nothing of the synth machine in it and no secret in it.
 *
 * - `tools.db.wasmPath` is dropped: every agent bundle carries sql.js's wasm beside it
 *   (functions.ts SQL_WASM) and a path on the synth machine would not exist in Lambda.
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

export function deployedSettings(settings: AgentSettings): AgentSettings {
  const { db, ...tools } = settings.tools;
  if (!db) return settings;
  const { wasmPath: _synthMachinePath, ...dbConfig } = db;
  return { ...settings, tools: { ...tools, db: dbConfig } };
}
