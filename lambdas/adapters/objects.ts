/**
 * S3 objects that are not artifacts: a fan-out step's items object, the Distributed Map's
 * ResultWriter files, and the objects of an `s3://` items source. Reads are bounded (`maxBytes`).
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ArtifactStoreError } from './artifacts.js';

export interface ListedObject {
  key: string;
  size: number;
  etag?: string;
  lastModified?: string;
}

export class ObjectStore {
  constructor(private readonly s3: S3Client) {}

  async getText(bucket: string, key: string, maxBytes = 256 * 1024 * 1024): Promise<string> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if ((res.ContentLength ?? 0) > maxBytes)
        throw new ArtifactStoreError(
          `s3://${bucket}/${key} is ${res.ContentLength} bytes; the limit is ${maxBytes}`,
        );
      return (await res.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (err instanceof ArtifactStoreError) throw err;
      throw new ArtifactStoreError(`Could not read s3://${bucket}/${key}`, { cause: err });
    }
  }

  async putText(bucket: string, key: string, body: string, contentType: string): Promise<void> {
    try {
      await this.s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }),
      );
    } catch (err) {
      throw new ArtifactStoreError(`Could not write s3://${bucket}/${key}`, { cause: err });
    }
  }

  /** The objects under `prefix`, in key order, at most `max` (one more tells the caller there are more). */
  async list(bucket: string, prefix: string, max: number): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const res: ListObjectsV2CommandOutput = await this.s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? []) {
          if (!o.Key || o.Key.endsWith('/')) continue;
          out.push({
            key: o.Key,
            size: o.Size ?? 0,
            ...(o.ETag ? { etag: o.ETag.replaceAll('"', '') } : {}),
            ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}),
          });
          if (out.length >= max) return out;
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw new ArtifactStoreError(`Could not list s3://${bucket}/${prefix}`, { cause: err });
    }
    return out;
  }
}
