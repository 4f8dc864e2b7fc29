/** Artifact metadata: `ART#<artifactId>` in the task partition `TASK#<id>` (the bytes live in S3). */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ArtifactPort, StoredArtifact } from '../../core/ports.js';
import { DynamoTable, taskPk as pk, strip } from './table.js';

export class DynamoArtifacts implements ArtifactPort {
  private readonly t: DynamoTable;
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    this.t = new DynamoTable(ddb, table);
  }

  async putArtifact(taskId: string, art: StoredArtifact): Promise<void> {
    await this.t.putIfAbsent({ pk: pk(taskId), sk: `ART#${art.id}`, ...art });
  }

  async listArtifacts(taskId: string): Promise<StoredArtifact[]> {
    return (await this.t.queryPrefix(pk(taskId), 'ART#')).map((i) => strip(i) as StoredArtifact);
  }

  async getArtifact(taskId: string, artifactId: string): Promise<StoredArtifact | undefined> {
    const res = await this.t.ddb.send(
      new GetCommand({ TableName: this.t.name, Key: { pk: pk(taskId), sk: `ART#${artifactId}` } }),
    );
    return res.Item ? (strip(res.Item) as StoredArtifact) : undefined;
  }

  async getArtifacts(taskId: string, artifactIds: readonly string[]): Promise<Map<string, StoredArtifact>> {
    if (artifactIds.length === 0) return new Map();
    const items = await this.t.getMany(
      [...new Set(artifactIds)].map((id) => ({ pk: pk(taskId), sk: `ART#${id}` })),
    );
    return new Map(items.map((i) => [i.id as string, strip(i) as StoredArtifact]));
  }
}
