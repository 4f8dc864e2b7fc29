/** S3 artifact storage: `tasks/<taskId>/steps/<stepId>/<attempt>/<name>`, sha256 recorded. */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { formatUrl } from '@aws-sdk/core/util';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/core/protocols';
import { attachment } from '../core/attachment.js';
import { BatonError, ErrorNames } from '../core/errors.js';
import { artifactId, artifactKey, sha256Hex } from '../core/ids.js';
import { PRESIGNED_QUERY_PARAMS } from './presigned-query.js';
import type { StoredArtifact } from './store.js';

export class ArtifactStoreError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.ArtifactStoreError;
  }
}

export class ArtifactStore {
  /** The presigner of upload slots after the first (uploadUrls), made once per instance. */
  private presigner: S3RequestPresigner | undefined;
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
    return artifactRecord(p, s3Key, p.body.byteLength, sha256);
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

  /**
   * A short-lived presigned GET URL of the object (SigV4 query authentication with the calling
   * function's credentials, so it stops working when they expire, whichever comes first). The
   * response headers S3 sends are fixed by the URL: the recorded content type and an attachment
   * disposition with the artifact's name.
   */
  async downloadUrl(
    s3Key: string,
    p: { contentType: string; fileName: string; expiresInSeconds: number },
  ): Promise<string> {
    try {
      return await getSignedUrl(
        this.s3,
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: s3Key,
          ResponseContentType: p.contentType,
          ResponseContentDisposition: attachment(p.fileName),
        }),
        { expiresIn: p.expiresInSeconds },
      );
    } catch (err) {
      throw new ArtifactStoreError(`Could not sign a download of ${s3Key}`, { cause: err });
    }
  }

  /**
   * A presigned PUT of `s3Key` (an agent's upload slot): whoever holds it can write that one
   * object until it expires, nothing else. The size is not fixed by the URL; `adopt` checks it.
   */
  async uploadUrl(s3Key: string, expiresInSeconds: number): Promise<string> {
    try {
      return await getSignedUrl(this.s3, new PutObjectCommand({ Bucket: this.bucket, Key: s3Key }), {
        expiresIn: expiresInSeconds,
      });
    } catch (err) {
      throw new ArtifactStoreError(`Could not sign an upload to ${s3Key}`, { cause: err });
    }
  }

  /**
   * Presigned PUTs of several keys (an attempt's upload slots), signed at one time. The first is
   * signed through the client (getSignedUrl: the endpoint resolved, the request serialized as
   * for any PutObject); the others are the same request with their own key, signed by the same
   * presigner, so that 50 slots cost one endpoint resolution and one signing key, not 50. Each
   * URL is the one getSignedUrl gives for its key at that time (test/unit/artifacts-presign.test.ts).
   */
  async uploadUrls(s3Keys: readonly string[], expiresInSeconds: number, now = new Date()): Promise<string[]> {
    const [head, ...rest] = s3Keys;
    if (head === undefined) return [];
    const sign = (key: string) =>
      getSignedUrl(this.s3, new PutObjectCommand({ Bucket: this.bucket, Key: key }), {
        expiresIn: expiresInSeconds,
        signingDate: now,
      });
    try {
      const first = new URL(await sign(head));
      const scope = first.searchParams.get('X-Amz-Credential')?.split('/');
      // The others are derived only where the key is its own path's tail, unescaped.
      const plain = (key: string) => /^[A-Za-z0-9._~/-]+$/.test(key);
      if (!scope || scope.length < 5 || !first.pathname.endsWith(`/${head}`) || !plain(head)) {
        return [first.href, ...(await Promise.all(rest.map(sign)))];
      }
      const [, , signingRegion = '', signingService = ''] = scope;
      const base = first.pathname.slice(0, -head.length);
      const query: Record<string, string> = {};
      for (const [k, v] of first.searchParams) if (!PRESIGNED_QUERY_PARAMS.has(k)) query[k] = v;
      const signableHeaders = new Set((first.searchParams.get('X-Amz-SignedHeaders') ?? 'host').split(';'));
      this.presigner ??= new S3RequestPresigner({
        ...this.s3.config,
        signingName: signingService,
        region: async () => signingRegion,
      });
      const presigner = this.presigner;
      const others = await Promise.all(
        rest.map(async (key) => {
          if (!plain(key)) return sign(key);
          const request = new HttpRequest({
            method: 'PUT',
            protocol: first.protocol,
            hostname: first.hostname,
            ...(first.port ? { port: Number(first.port) } : {}),
            path: `${base}${key}`,
            query: { ...query },
            headers: { host: first.host },
          });
          const signed = await presigner.presign(request, {
            expiresIn: expiresInSeconds,
            signingDate: now,
            signingRegion,
            signingService,
            signableHeaders,
          });
          return formatUrl(signed);
        }),
      );
      return [first.href, ...others];
    } catch (err) {
      throw new ArtifactStoreError(`Could not sign the uploads to ${head} and ${rest.length} more`, {
        cause: err,
      });
    }
  }

  /**
   * Takes an object an agent uploaded to `s3Key` as the artifact `name` of the attempt: its
   * real size (HEAD first: nothing over `maxBytes` is read) and the sha256 of its bytes.
   * Undefined when nothing was uploaded there.
   */
  async adopt(p: {
    s3Key: string;
    stepId: string;
    attempt: number;
    name: string;
    contentType: string;
    maxBytes: number;
  }): Promise<StoredArtifact | 'missing' | { tooLarge: number }> {
    let size: number;
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: p.s3Key }));
      size = head.ContentLength ?? 0;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NotFound') return 'missing';
      throw new ArtifactStoreError(`Could not read upload ${p.s3Key}`, { cause: err });
    }
    if (size > p.maxBytes) return { tooLarge: size };
    const body = await this.get(p.s3Key);
    if (body.byteLength > p.maxBytes) return { tooLarge: body.byteLength };
    return artifactRecord(p, p.s3Key, body.byteLength, sha256Hex(body));
  }
}

/** The record of an attempt's artifact stored at `s3Key` (its id derived from step, attempt and name). */
export function artifactRecord(
  p: { stepId: string; attempt: number; name: string; contentType: string },
  s3Key: string,
  size: number,
  sha256: string,
): StoredArtifact {
  return {
    id: artifactId(p.stepId, p.attempt, p.name),
    stepId: p.stepId,
    attempt: p.attempt,
    name: p.name,
    contentType: p.contentType,
    size,
    sha256,
    s3Key,
  };
}
