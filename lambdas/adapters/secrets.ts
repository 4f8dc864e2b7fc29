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
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { normalizeSecrets } from '../core/approvals.js';
import { BatonError } from '../core/errors.js';

export const SECRET_PARAM_ENV = 'BATON_APPROVAL_SECRET_PARAM';
export const SECRET_FILE_ENV = 'BATON_APPROVAL_SECRET_FILE';
export const SECRETS_CACHE_TTL_MS = 5 * 60 * 1000;

export class SigningSecretError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Baton.SigningSecretUnavailable';
  }
}

export interface LoadSigningSecretsOptions {
  /** Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Defaults to one shared client for the container. */
  ssm?: SSMClient;
  /** Clock for the cache TTL, in ms. Defaults to `Date.now`. */
  now?: () => number;
  ttlMs?: number;
}

export type SigningSecretList = readonly [string, ...string[]];

interface CacheEntry {
  expiresAt: number;
  value: Promise<SigningSecretList>;
}
const cache = new Map<string, CacheEntry>();

/** Forgets cached secrets (tests; or after an operator rotated and cannot wait for the TTL). */
export function resetSigningSecretsCache(): void {
  cache.clear();
}

let sharedSsmClient: SSMClient | undefined;
function defaultSsmClient(): SSMClient {
  sharedSsmClient ??= new SSMClient({});
  return sharedSsmClient;
}

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

async function fromSsm(name: string, client: SSMClient): Promise<SigningSecretList> {
  const source = `SSM parameter ${name}`;
  let value: string | undefined;
  let type: string | undefined;
  try {
    const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    value = out.Parameter?.Value;
    type = out.Parameter?.Type;
  } catch (err) {
    const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new SigningSecretError(`could not read ${source} (${SECRET_PARAM_ENV}): ${reason}`, { cause: err });
  }
  if (type !== undefined && type !== 'SecureString') {
    throw new SigningSecretError(`${source} is a ${type}; store approval signing secrets as a SecureString`);
  }
  if (value === undefined) throw new SigningSecretError(`${source} has no value`);
  return validated(value, source);
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

async function fromFile(path: string): Promise<SigningSecretList> {
  const source = `secret file ${path}`;
  try {
    return validated(await readFile(path, 'utf8'), source);
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
    return validated(await readFile(path, 'utf8'), source);
  } catch (err) {
    if (err instanceof SigningSecretError) throw err;
    throw new SigningSecretError(`could not read ${source} (${SECRET_FILE_ENV})`, { cause: err });
  }
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
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? SECRETS_CACHE_TTL_MS;
  const param = env[SECRET_PARAM_ENV]?.trim();
  const file = env[SECRET_FILE_ENV]?.trim();

  let key: string;
  let load: () => Promise<SigningSecretList>;
  if (param) {
    key = `ssm:${param}`;
    const client = options.ssm ?? defaultSsmClient();
    load = () => fromSsm(param, client);
  } else if (file) {
    key = `file:${file}`;
    load = () => fromFile(file);
  } else {
    throw new SigningSecretError(
      `no approval signing secret is configured: set ${SECRET_PARAM_ENV} to the name of an SSM SecureString parameter (AWS) or ${SECRET_FILE_ENV} to a file path (local mode; created if missing)`,
    );
  }

  const t = now();
  const hit = cache.get(key);
  if (hit && t < hit.expiresAt) return hit.value;

  const entry: CacheEntry = { expiresAt: t + ttlMs, value: load() };
  cache.set(key, entry);
  try {
    return await entry.value;
  } catch (err) {
    if (cache.get(key) === entry) cache.delete(key);
    throw err;
  }
}
