import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  loadSigningSecrets,
  parseSecretList,
  resetSigningSecretsCache,
  SECRET_FILE_ENV,
  SECRET_PARAM_ENV,
  SECRETS_CACHE_TTL_MS,
  SigningSecretError,
} from '../../../lambdas/adapters/secrets.js';

const S1 = '1'.repeat(64);
const S2 = '2'.repeat(64);
const PARAM = '/baton/approval-signing-secret';

/** The error a promise rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`);
  }
  throw new Error('expected a rejection, got a value');
}

describe('parseSecretList', () => {
  it('splits on commas and newlines and drops blanks', () => {
    // Act + Assess
    expect(parseSecretList(` a , b\n\nc\r\nd,`)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('loadSigningSecrets from SSM', () => {
  const ssm = mockClient(SSMClient);
  beforeEach(() => {
    ssm.reset();
    resetSigningSecretsCache();
  });
  afterEach(() => {
    ssm.reset();
    vi.useRealTimers();
  });

  /** The cache (Powertools Parameters) reads the system clock: a fake Date set to `ms`. */
  function clockAt(ms: number): void {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(ms);
  }

  it('reads the SecureString with decryption, splits a rotation list and caches it', async () => {
    // Prepare
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: PARAM, Type: 'SecureString', Value: `${S1},\n${S2}` } });
    const client = new SSMClient({ region: 'eu-west-1' });
    const env = { [SECRET_PARAM_ENV]: PARAM };
    clockAt(1_000);
    // Act
    const first = await loadSigningSecrets({ env, ssm: client });
    clockAt(1_000 + SECRETS_CACHE_TTL_MS - 1);
    const second = await loadSigningSecrets({ env, ssm: client });
    // Assess
    expect(first).toEqual([S1, S2]);
    expect(second).toEqual([S1, S2]);
    const calls = ssm.commandCalls(GetParameterCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ Name: PARAM, WithDecryption: true });
  });

  it('reads again once the TTL has passed', async () => {
    // Prepare
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Type: 'SecureString', Value: S1 } })
      .resolvesOnce({ Parameter: { Type: 'SecureString', Value: `${S2},${S1}` } });
    const client = new SSMClient({ region: 'eu-west-1' });
    const env = { [SECRET_PARAM_ENV]: PARAM };
    clockAt(0);
    // Act
    const before = await loadSigningSecrets({ env, ssm: client });
    // Powertools keeps a value for maxAge inclusive: it is stale from the next millisecond.
    clockAt(SECRETS_CACHE_TTL_MS + 1);
    const after = await loadSigningSecrets({ env, ssm: client });
    // Assess
    expect(before).toEqual([S1]);
    expect(after).toEqual([S2, S1]);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('shares one read between concurrent callers', async () => {
    // Prepare
    ssm.on(GetParameterCommand).resolves({ Parameter: { Type: 'SecureString', Value: S1 } });
    const client = new SSMClient({ region: 'eu-west-1' });
    const env = { [SECRET_PARAM_ENV]: PARAM };
    // Act
    const results = await Promise.all([1, 2, 3].map(() => loadSigningSecrets({ env, ssm: client })));
    // Assess
    expect(results).toEqual([[S1], [S1], [S1]]);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it('wraps an SSM failure in a typed error with the cause, and does not cache it', async () => {
    // Prepare
    const failure = Object.assign(new Error('Parameter not found'), { name: 'ParameterNotFound' });
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(failure)
      .resolves({ Parameter: { Type: 'SecureString', Value: S1 } });
    const client = new SSMClient({ region: 'eu-west-1' });
    const env = { [SECRET_PARAM_ENV]: PARAM };
    // Act
    const err = await rejectionOf(loadSigningSecrets({ env, ssm: client }));
    const retried = await loadSigningSecrets({ env, ssm: client });
    // Assess
    expect(err).toBeInstanceOf(SigningSecretError);
    expect(err.name).toBe('Baton.SigningSecretUnavailable');
    expect(err.cause).toBe(failure);
    expect(err.message).toContain(`SSM parameter ${PARAM}`);
    expect(err.message).toContain('ParameterNotFound');
    expect(retried).toEqual([S1]);
  });

  it('refuses a plain String parameter and a too-short secret without echoing the value', async () => {
    // Prepare
    const client = new SSMClient({ region: 'eu-west-1' });
    const env = { [SECRET_PARAM_ENV]: PARAM };
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Type: 'String', Value: S1 } })
      .resolvesOnce({ Parameter: { Type: 'SecureString', Value: 'tooshort' } });
    // Act
    const plain = await rejectionOf(loadSigningSecrets({ env, ssm: client }));
    const short = await rejectionOf(loadSigningSecrets({ env, ssm: client }));
    // Assess
    expect(plain).toBeInstanceOf(SigningSecretError);
    expect(plain.message).toMatch(/is a String; store approval signing secrets as a SecureString/);
    expect(plain.message).not.toContain(S1);
    expect(short).toBeInstanceOf(SigningSecretError);
    expect(short.message).toMatch(/at least 32/);
    expect(short.message).not.toContain('tooshort');
  });

  it('says what to configure when neither source is set', async () => {
    // Act
    const err = await rejectionOf(loadSigningSecrets({ env: {} }));
    // Assess
    expect(err).toBeInstanceOf(SigningSecretError);
    expect(err.message).toContain(SECRET_PARAM_ENV);
    expect(err.message).toContain(SECRET_FILE_ENV);
  });
});

describe('loadSigningSecrets from a local file', () => {
  let dir: string;
  beforeEach(async () => {
    resetSigningSecretsCache();
    dir = await mkdtemp(join(tmpdir(), 'baton-secrets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file with 32 random bytes as hex, mode 0600, and reuses it', async () => {
    // Prepare
    const path = join(dir, 'nested', 'approval-secret');
    const env = { [SECRET_FILE_ENV]: path };
    // Act
    const created = await loadSigningSecrets({ env });
    resetSigningSecretsCache();
    const reused = await loadSigningSecrets({ env });
    // Assess
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatch(/^[0-9a-f]{64}$/);
    expect((await readFile(path, 'utf8')).trim()).toBe(created[0]);
    expect(reused).toEqual(created);
  });

  it('reads an existing rotation list', async () => {
    // Prepare
    const path = join(dir, 'secret');
    await writeFile(path, `${S2}\n${S1}\n`, { mode: 0o600 });
    // Act
    const secrets = await loadSigningSecrets({ env: { [SECRET_FILE_ENV]: path } });
    // Assess
    expect(secrets).toEqual([S2, S1]);
  });

  it('refuses an empty file with a typed error', async () => {
    // Prepare
    const path = join(dir, 'secret');
    await writeFile(path, '\n', { mode: 0o600 });
    // Act
    const err = await rejectionOf(loadSigningSecrets({ env: { [SECRET_FILE_ENV]: path } }));
    // Assess
    expect(err).toBeInstanceOf(SigningSecretError);
    expect(err.message).toContain(`secret file ${path} holds no usable signing secret`);
  });

  it('prefers the SSM parameter when both are set', async () => {
    // Prepare
    const ssm = mockClient(SSMClient);
    ssm.on(GetParameterCommand).resolves({ Parameter: { Type: 'SecureString', Value: S1 } });
    const path = join(dir, 'secret');
    // Act
    const secrets = await loadSigningSecrets({
      env: { [SECRET_PARAM_ENV]: PARAM, [SECRET_FILE_ENV]: path },
      ssm: new SSMClient({ region: 'eu-west-1' }),
    });
    // Assess
    expect(secrets).toEqual([S1]);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    ssm.restore();
  });
});
