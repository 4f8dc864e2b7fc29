/**
 * The artifact bucket in memory, for unit tests of the step runner: keys to bytes, with the
 * ArtifactStore methods the runner uses; presigned URLs are `mem://get/<key>` and
 * `mem://put/<key>`, served by `fetch` (an agent side's reads and upload PUTs).
 */
import { artifactRecord } from '../../lambdas/adapters/artifacts.js';
import { artifactKey, sha256Hex } from '../../lambdas/core/ids.js';
import type { StoredArtifact } from '../../lambdas/core/ports.js';

export class MemoryBucket {
  readonly objects = new Map<string, Buffer>();

  async put(p: {
    taskId: string;
    stepId: string;
    attempt: number;
    name: string;
    contentType: string;
    body: Uint8Array;
  }): Promise<StoredArtifact> {
    const s3Key = artifactKey(p.taskId, p.stepId, p.attempt, p.name);
    this.objects.set(s3Key, Buffer.from(p.body));
    return artifactRecord(p, s3Key, p.body.byteLength, sha256Hex(p.body));
  }

  async downloadUrl(s3Key: string): Promise<string> {
    return `mem://get/${s3Key}`;
  }

  async uploadUrl(s3Key: string): Promise<string> {
    return `mem://put/${s3Key}`;
  }

  async uploadUrls(s3Keys: readonly string[]): Promise<string[]> {
    return s3Keys.map((k) => `mem://put/${k}`);
  }

  async adopt(p: {
    s3Key: string;
    stepId: string;
    attempt: number;
    name: string;
    contentType: string;
    maxBytes: number;
  }): Promise<StoredArtifact | 'missing' | { tooLarge: number }> {
    const body = this.objects.get(p.s3Key);
    if (!body) return 'missing';
    if (body.byteLength > p.maxBytes) return { tooLarge: body.byteLength };
    return artifactRecord(p, p.s3Key, body.byteLength, sha256Hex(body));
  }

  fetch: typeof fetch = async (input, init) => {
    const [, verb, key] = /^mem:\/\/(get|put)\/(.+)$/.exec(String(input)) ?? [];
    if (verb === 'put' && init?.method === 'PUT') {
      this.objects.set(key as string, Buffer.from(init.body as Uint8Array));
      return new Response(null, { status: 200 });
    }
    const body = verb === 'get' ? this.objects.get(key as string) : undefined;
    return body ? new Response(body) : new Response('no such object', { status: 404 });
  };
}
