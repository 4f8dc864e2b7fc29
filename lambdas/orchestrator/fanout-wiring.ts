/**
 * What the fan-out functions' entries (functions/prepare-items.ts, collect-items.ts) wire: the
 * orchestrator's adapters, the S3 objects and artifacts of the step, the progress counters.
 * ItemsFailed (functions/items-failed.ts) needs only the store and the counters, so it wires
 * those itself and its bundle carries no S3 client.
 */
import { ArtifactStore } from '../adapters/artifacts.js';
import { documentClient, s3Client } from '../adapters/clients.js';
import { DynamoFanOut } from '../adapters/dynamodb/fanout.js';
import { ObjectStore } from '../adapters/objects.js';
import type { FanOutDeps } from './fanout.js';
import { orchestratorDeps } from './wiring.js';

export function fanOutDeps(env: {
  TABLE_NAME: string;
  ARTIFACT_BUCKET: string;
  FANOUT_SOURCE_BUCKETS?: string | undefined;
}): FanOutDeps {
  return {
    ...orchestratorDeps(env),
    counters: new DynamoFanOut(documentClient(), env.TABLE_NAME),
    objects: new ObjectStore(s3Client()),
    artifacts: new ArtifactStore(s3Client(), env.ARTIFACT_BUCKET),
    bucket: env.ARTIFACT_BUCKET,
    sourceBuckets: (env.FANOUT_SOURCE_BUCKETS ?? '')
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  };
}
