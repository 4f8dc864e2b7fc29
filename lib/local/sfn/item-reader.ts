/**
 * A Distributed Map's ItemReader on the local S3 (the engine's S3 client: in local mode it signs as
 * the state machine's role, so local IAM checks s3:GetObject / s3:ListBucket as AWS would).
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html
 *
 * - `arn:aws:states:::s3:getObject` with ReaderConfig.InputType JSON (the object is one JSON
 *   array, read whole), JSONL (one item per line, streamed) or CSV (one object per row, keys from
 *   the first row or CSVHeaders, values strings; streamed through csv-parse).
 * - `arn:aws:states:::s3:listObjectsV2` with Bucket and Prefix: one item per object,
 *   `{ Etag, Key, LastModified (epoch seconds), Size, StorageClass }`, every page.
 * - ReaderConfig.MaxItems (0: no limit) stops after that many items.
 * Any failure (access denied, no such key, not JSON, a row with the wrong number of fields) is
 * the Map state's States.ItemReaderFailed.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse';
import type { DistributedMapInfo } from './definition.js';
import { TaskFailedError } from './library-errors.js';
import { isObject, type Json } from './types.js';

type ReaderSpec = NonNullable<DistributedMapInfo['reader']>;

export function itemReaderFailed(cause: unknown): TaskFailedError {
  const text =
    cause instanceof Error
      ? `${cause.name === 'Error' ? '' : `${cause.name}: `}${cause.message}`
      : String(cause);
  return new TaskFailedError('States.ItemReaderFailed', text);
}

function stringParameter(parameters: Json | undefined, name: string, required: boolean): string | undefined {
  const value = isObject(parameters) ? parameters[name] : undefined;
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw itemReaderFailed(`ItemReader.Parameters.${name} must be a non-empty string`);
  }
  return value;
}

/** Yields the items of the reader's source, at most `maxItems` (0: all). */
export async function* readItems(
  s3: S3Client | undefined,
  reader: ReaderSpec,
  parameters: Json | undefined,
  maxItems: number,
): AsyncGenerator<Json> {
  if (!s3)
    throw itemReaderFailed('the local Step Functions have no S3 client (LocalStepFunctionsOptions.s3)');
  const bucket = stringParameter(parameters, 'Bucket', true) as string;
  let count = 0;
  const source =
    reader.resource === 'listObjectsV2'
      ? listObjects(s3, bucket, stringParameter(parameters, 'Prefix', false))
      : objectItems(s3, reader, bucket, parameters);
  try {
    for await (const item of source) {
      yield item;
      count += 1;
      if (maxItems > 0 && count >= maxItems) return;
    }
  } catch (err) {
    if (err instanceof TaskFailedError) throw err;
    throw itemReaderFailed(err);
  }
}

async function* listObjects(s3: S3Client, bucket: string, prefix: string | undefined): AsyncGenerator<Json> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      yield {
        Etag: object.ETag ?? '',
        Key: object.Key ?? '',
        LastModified: object.LastModified ? Math.floor(object.LastModified.getTime() / 1000) : 0,
        Size: object.Size ?? 0,
        StorageClass: object.StorageClass ?? 'STANDARD',
      };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

async function* objectItems(
  s3: S3Client,
  reader: ReaderSpec,
  bucket: string,
  parameters: Json | undefined,
): AsyncGenerator<Json> {
  const key = stringParameter(parameters, 'Key', true) as string;
  const versionId = stringParameter(parameters, 'VersionId', false);
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  const body = object.Body as Readable | undefined;
  if (!body) throw itemReaderFailed(`s3://${bucket}/${key} has no body`);

  if (reader.inputType === 'JSON') {
    const text = await (object.Body as { transformToString(): Promise<string> }).transformToString();
    let items: Json;
    try {
      items = JSON.parse(text) as Json;
    } catch (err) {
      throw itemReaderFailed(`s3://${bucket}/${key} is not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(items)) throw itemReaderFailed(`s3://${bucket}/${key} is not a JSON array`);
    yield* items;
    return;
  }

  if (reader.inputType === 'JSONL') {
    let line = 0;
    for await (const text of createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY })) {
      line += 1;
      if (text.trim().length === 0) continue;
      try {
        yield JSON.parse(text) as Json;
      } catch (err) {
        throw itemReaderFailed(`s3://${bucket}/${key} line ${line} is not JSON: ${(err as Error).message}`);
      }
    }
    return;
  }

  const rows = body.pipe(
    parseCsv({
      delimiter: reader.csvDelimiter,
      columns: reader.csvHeaderLocation === 'GIVEN' ? reader.csvHeaders : true,
      skip_empty_lines: true,
      bom: true,
    }),
  );
  for await (const row of rows) yield row as Json;
}
