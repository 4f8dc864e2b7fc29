/** S3 artifact storage: `tasks/<taskId>/steps/<stepId>/<attempt>/<name>`, sha256 recorded. */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BatonError, ErrorNames } from '../core/errors.js';
import { artifactId, artifactKey, sha256Hex } from '../core/ids.js';
import type { StoredArtifact } from './store.js';

export class ArtifactStoreError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.ArtifactStoreError;
  }
}

export class ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Writes the bytes (same key for the same attempt and name, so a retried write overwrites itself). */
  async put(p: {
    taskId: string;
    stepId: string;
    attempt: number;
    name: string;
    contentType: string;
    body: Uint8Array;
  }): Promise<StoredArtifact> {
    const s3Key = artifactKey(p.taskId, p.stepId, p.attempt, p.name);
    const sha256 = sha256Hex(p.body);
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: s3Key,
          Body: p.body,
          ContentType: p.contentType,
          Metadata: { sha256 },
        }),
      );
    } catch (err) {
      throw new ArtifactStoreError(`Could not store artifact ${p.name} of step ${p.stepId}`, { cause: err });
    }
    return {
      id: artifactId(p.stepId, p.attempt, p.name),
      stepId: p.stepId,
      attempt: p.attempt,
      name: p.name,
      contentType: p.contentType,
      size: p.body.byteLength,
      sha256,
      s3Key,
    };
  }

  async get(s3Key: string): Promise<Uint8Array> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: s3Key }));
      if (!res.Body) throw new Error('empty body');
      return await res.Body.transformToByteArray();
    } catch (err) {
      throw new ArtifactStoreError(`Could not read artifact ${s3Key}`, { cause: err });
    }
  }
}
