/**
 * The secrets that sign approval links and CSRF tokens.
 *
 * - AWS: env `BATON_APPROVAL_SECRET_PARAM` names an SSM SecureString parameter, read with
 *   decryption. Its value may hold several secrets separated by commas or newlines, for
 *   rotation: the first signs, all verify. To rotate, prepend a new secret, and remove the old
 *   one once the longest approval timeout has passed.
 * - Local mode: env `BATON_APPROVAL_SECRET_FILE` names a file (same format); when it is
 *   missing it is created with 32 random bytes as hex, mode 0600.
 * The parameter wins when both are set. Values are cached for the container's life with a TTL
 * (5 minutes), so a rotation reaches every warm container within that time.
 * Secret values never appear in error messages.
 *
 * Reading and caching is Powertools Parameters: the SSM source is its `SSMProvider` (one
 * override, `_get`, so a parameter that is not a SecureString is refused: the provider returns
 * only the value), the file source a provider of our own on its `BaseProvider`. Both keep
 * values for `maxAge` (5 minutes) and cache no failure; concurrent first reads share one
 * request (Powertools caches only resolved values, so the in-flight promise is kept here).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GetParameterError } from '@aws-lambda-powertools/parameters';
import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { GetParameterCommand, type GetParameterCommandOutput, type SSMClient } from '@aws-sdk/client-ssm';
import { normalizeSecrets } from '../core/approvals.js';
import { BatonError, ErrorNames } from '../core/errors.js';

export const SECRET_PARAM_ENV = 'BATON_APPROVAL_SECRET_PARAM';
export const SECRET_FILE_ENV = 'BATON_APPROVAL_SECRET_FILE';
export const SECRETS_CACHE_TTL_MS = 5 * 60 * 1000;

export class SigningSecretError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.SigningSecretUnavailable;
  }
}

export interface LoadSigningSecretsOptions {
  /** Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to one shared client for the container. */
  ssm?: SSMClient;
  /** How long a value is kept, in ms (Powertools counts whole seconds). Defaults to 5 minutes. */
  ttlMs?: number;
}

export type SigningSecretList = readonly [string, ...string[]];

/** Splits a stored value into secrets: commas or newlines separate, blanks are ignored. */
export function parseSecretList(raw: string): string[] {
  return raw
    .split(/[,\r\n]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function validated(raw: string, source: string): SigningSecretList {
  try {
    return normalizeSecrets(parseSecretList(raw));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SigningSecretError(`${source} holds no usable signing secret: ${reason}`, { cause: err });
  }
}

/** Powertools' SSM provider, refusing parameters that are not SecureStrings (read with decryption). */
class SecureStringProvider extends SSMProvider {
  protected override async _get(name: string): Promise<string | undefined> {
    const source = `SSM parameter ${name}`;
    let out: GetParameterCommandOutput;
    try {
      out = await this.client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new SigningSecretError(`could not read ${source} (${SECRET_PARAM_ENV}): ${reason}`, {
        cause: err,
      });
    }
    const type = out.Parameter?.Type;
    const value = out.Parameter?.Value;
    if (type !== undefined && type !== 'SecureString') {
      throw new SigningSecretError(
        `${source} is a ${type}; store approval signing secrets as a SecureString`,
      );
    }
    if (value === undefined) throw new SigningSecretError(`${source} has no value`);
    validated(value, source);
    return value;
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** The local file source as a Powertools provider: the name is the path; created when missing. */
class SecretFileProvider extends BaseProvider {
  constructor() {
    super({});
  }

  protected async _get(path: string): Promise<string> {
    const source = `secret file ${path}`;
    try {
      const raw = await readFile(path, 'utf8');
      validated(raw, source);
      return raw;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) {
        if (err instanceof SigningSecretError) throw err;
        throw new SigningSecretError(`could not read ${source} (${SECRET_FILE_ENV})`, { cause: err });
      }
    }
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      // "wx": never overwrite a file another process created in the meantime.
      await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) {
        throw new SigningSecretError(`could not create ${source} (${SECRET_FILE_ENV})`, { cause: err });
      }
    }
    try {
      const raw = await readFile(path, 'utf8');
      validated(raw, source);
      return raw;
    } catch (err) {
      if (err instanceof SigningSecretError) throw err;
      throw new SigningSecretError(`could not read ${source} (${SECRET_FILE_ENV})`, { cause: err });
    }
  }

  protected async _getMultiple(): Promise<Record<string, unknown>> {
    throw new SigningSecretError('a secret file is read one at a time');
  }
}

/** Providers created once per container (one per SSM client), and reads under way. */
const ssmProviders = new Map<SSMClient | undefined, SecureStringProvider>();
const fileProvider = new SecretFileProvider();
const inFlight = new Map<string, Promise<string | undefined>>();

function ssmProvider(client: SSMClient | undefined): SecureStringProvider {
  let provider = ssmProviders.get(client);
  if (!provider) {
    provider = new SecureStringProvider(client ? { awsSdkV3Client: client } : {});
    ssmProviders.set(client, provider);
  }
  return provider;
}

/** Forgets cached secrets (tests; or after an operator rotated and cannot wait for the TTL). */
export function resetSigningSecretsCache(): void {
  for (const provider of ssmProviders.values()) provider.clearCache();
  fileProvider.clearCache();
  inFlight.clear();
}

/** Our own errors come out of Powertools wrapped in its GetParameterError. */
function unwrapped(err: unknown): unknown {
  return err instanceof GetParameterError && err.cause instanceof SigningSecretError ? err.cause : err;
}

/**
 * The signing secrets, first one signs. Cached per source for `ttlMs`; concurrent callers
 * share one read, and a failed read is not cached.
 * @throws SigningSecretError when no source is configured or the source cannot be read or holds
 *   no secret of at least 32 characters.
 */
export async function loadSigningSecrets(
  options: LoadSigningSecretsOptions = {},
): Promise<SigningSecretList> {
  const env = options.env ?? process.env;
  const maxAge = Math.max(0, Math.floor((options.ttlMs ?? SECRETS_CACHE_TTL_MS) / 1000));
  const param = env[SECRET_PARAM_ENV]?.trim();
  const file = env[SECRET_FILE_ENV]?.trim();

  let key: string;
  let source: string;
  let read: () => Promise<string | undefined>;
  if (param) {
    const provider = ssmProvider(options.ssm);
    key = `ssm:${param}`;
    source = `SSM parameter ${param}`;
    read = () => provider.get(param, { maxAge });
  } else if (file) {
    key = `file:${file}`;
    source = `secret file ${file}`;
    read = async () => {
      const value = await fileProvider.get(file, { maxAge });
      return typeof value === 'string' ? value : undefined;
    };
  } else {
    throw new SigningSecretError(
      `no approval signing secret is configured: set ${SECRET_PARAM_ENV} to the name of an SSM SecureString parameter (AWS) or ${SECRET_FILE_ENV} to a file path (local mode; created if missing)`,
    );
  }

  let pending = inFlight.get(key);
  if (!pending) {
    pending = read().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  let raw: string | undefined;
  try {
    raw = await pending;
  } catch (err) {
    throw unwrapped(err);
  }
  if (raw === undefined) throw new SigningSecretError(`${source} has no value`);
  return validated(raw, source);
}
