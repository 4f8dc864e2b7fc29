/**
 * An attempt's upload slots are presigned in one batch (ArtifactStore.uploadUrls): the first
 * through the S3 client, the others by the same presigner with their own key. Each URL must be
 * exactly the one the SDK's getSignedUrl gives for its key at that time, whatever the endpoint
 * (AWS's virtual-hosted buckets, a local path-style one) and credentials (with a session token,
 * as a Lambda function's are).
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../lambdas/adapters/artifacts.js';
import { uploadKey } from '../../lambdas/agents/protocol.js';

const BUCKET = 'baton-artifacts-123';
const now = new Date('2030-01-02T03:04:05Z');
const keys = Array.from({ length: 50 }, (_, slot) => uploadKey('t_0abc', 'draft-1', 2, slot));

const clients: [string, S3Client][] = [
  [
    'AWS endpoint, session credentials',
    new S3Client({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'tok+en/=' },
    }),
  ],
  [
    'a local path-style endpoint',
    new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4569',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
    }),
  ],
];

describe.each(clients)('presigned upload slots, %s', (_name, s3) => {
  const sdk = (key: string) =>
    getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), {
      expiresIn: 600,
      signingDate: now,
    });

  it("signs 50 slots, each URL exactly getSignedUrl's for its key", async () => {
    // Prepare
    const store = new ArtifactStore(s3, BUCKET);
    // Act
    const urls = await store.uploadUrls(keys, 600, now);
    // Assess
    expect(urls).toEqual(await Promise.all(keys.map(sdk)));
    expect(new Set(urls).size).toBe(50);
  });

  it('signs a key that needs escaping through the client, as getSignedUrl does', async () => {
    // Prepare
    const store = new ArtifactStore(s3, BUCKET);
    const odd = [keys[0] as string, 'tasks/t 1/steps/a+b/1/uploads/0', keys[1] as string];
    // Act
    const urls = await store.uploadUrls(odd, 600, now);
    // Assess
    expect(urls).toEqual(await Promise.all(odd.map(sdk)));
    expect(await store.uploadUrls([], 600, now)).toEqual([]);
  });
});
