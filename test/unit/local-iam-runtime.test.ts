/**
 * The local runtime gives every function of the template an identity of its own (its role's
 * session) and its emulators refuse a request signed with a function's key id but another secret.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS } from '../../lib/local/emulators.js';
import { type Harness, startHarness } from '../integration/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('local runtime identities', () => {
  it('gives each function its own key pair, whose principal is its role session', () => {
    // Act
    const identities = h.rt.iam.identities().filter((i) => !i.principal.admin);
    const byFunction = new Map(identities.map((i) => [i.principal.arn.split('/').at(-1), i]));

    // Assess
    expect(new Set(identities.map((i) => i.accessKeyId)).size).toBe(identities.length);
    for (const fn of h.rt.functions.values()) {
      const identity = byFunction.get(fn.logicalId);
      const roleName = identity?.principal.roleArn?.split('/').at(-1);
      expect(identity?.principal.arn).toBe(
        `arn:aws:sts::000000000000:assumed-role/${roleName}/${fn.logicalId}`,
      );
      expect(roleName).toMatch(/ServiceRole[0-9A-F]{8}$/);
      expect(identity?.accessKeyId).not.toBe(LOCAL_CREDENTIALS.accessKeyId);
    }
  });

  it("refuses a call signed with a function's access key id and a secret that is not its own", async () => {
    // Prepare
    const gate = h.rt.iam.identities().find((i) => /assumed-role\/Gate/.test(i.principal.arn));
    const forged = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB,
      credentials: {
        accessKeyId: gate?.accessKeyId ?? '',
        secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      },
    });

    // Act
    const result = await forged.send(new ListTablesCommand({})).then(
      () => undefined,
      (err: unknown) => err,
    );

    // Assess
    expect(gate).toBeDefined();
    expect(result).toMatchObject({ name: 'InvalidSignatureException' });
  });
});
