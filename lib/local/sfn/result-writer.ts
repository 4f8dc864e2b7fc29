/**
 * A Distributed Map's results: the ResultWriter's files on the local S3, or (without one) the
 * Map state's result array. https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
 *
 * With `ResultWriter: { Resource: arn:aws:states:::s3:putObject, Parameters: { Bucket, Prefix } }`
 * the Map Run's children go to `<Prefix>/<Map Run id>/`, one JSON array per status, each entry
 * the child's execution record as AWS exports it (Transformation NONE, the default with an S3
 * destination): SUCCEEDED_0.json, FAILED_0.json (failed, timed out and aborted children),
 * PENDING_0.json (items no child ran); `manifest.json` lists them
 * (`{ DestinationBucket, MapRunArn, ResultFiles: { FAILED, PENDING, SUCCEEDED: [{ Key, Size }] } }`)
 * and the state's result is `{ MapRunArn, ResultWriterDetails: { Bucket, Key: <manifest key> } }`.
 * A file is written only for a status some child has (the manifest lists an empty array for the
 * others). The files are built on disk and streamed to S3, so their size costs no memory.
 * Without a ResultWriter the result is the children's outputs in item order (COMPACT), a failed
 * child's entry being its execution record, as AWS returns it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { TaskFailedError, TerminalTaskError } from './library-errors.js';
import type { ChildRecord, MapRunRecord } from './map-runs.js';
import { isObject, type Json, MAX_PAYLOAD_BYTES } from './types.js';

export type ResultCategory = 'SUCCEEDED' | 'FAILED' | 'PENDING';

/** A child's entry in a result file (Transformation NONE), as AWS writes it. */
export function childEntry(run: MapRunRecord, executionArnPrefix: string, child: ChildRecord): Json {
  const entry: Record<string, Json> = {
    ExecutionArn: `${executionArnPrefix}${child.name}`,
    Input: child.input,
    InputDetails: { Included: true },
    Name: child.name,
  };
  if (child.status === 'SUCCEEDED') {
    entry.Output = child.output ?? 'null';
    entry.OutputDetails = { Included: true };
  } else {
    if (child.error !== undefined) entry.Error = child.error;
    if (child.cause !== undefined) entry.Cause = child.cause;
  }
  entry.RedriveCount = child.redriveCount;
  entry.RedriveStatus = child.status === 'SUCCEEDED' ? 'NOT_REDRIVABLE' : 'REDRIVABLE';
  if (child.status === 'SUCCEEDED')
    entry.RedriveStatusReason = 'Execution is SUCCEEDED and cannot be redriven';
  entry.StartDate = child.startDate;
  entry.StateMachineArn = run.stateMachineArn;
  entry.Status = child.status;
  entry.StopDate = child.stopDate;
  return entry;
}

/** An item no child ran: its input and status PENDING. */
export function pendingEntry(input: string): Json {
  return { Input: input, InputDetails: { Included: true }, Status: 'PENDING' };
}

export function categoryOf(child: ChildRecord | undefined): ResultCategory {
  if (!child) return 'PENDING';
  return child.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED';
}

export function resultWriterFailed(cause: unknown): TaskFailedError {
  const text =
    cause instanceof Error
      ? `${cause.name === 'Error' ? '' : `${cause.name}: `}${cause.message}`
      : String(cause);
  return new TaskFailedError('States.ResultWriterFailed', text);
}

/** The Bucket and the key folder (`<Prefix>/<id>`) of the ResultWriter's Parameters. */
export function writerTarget(parameters: Json | undefined, id: string): { bucket: string; folder: string } {
  const bucket = isObject(parameters) ? parameters.Bucket : undefined;
  const prefix = isObject(parameters) ? (parameters.Prefix ?? '') : '';
  if (typeof bucket !== 'string' || bucket.length === 0) {
    throw resultWriterFailed('ResultWriter.Parameters.Bucket must be a non-empty string');
  }
  if (typeof prefix !== 'string') throw resultWriterFailed('ResultWriter.Parameters.Prefix must be a string');
  const base = prefix.replace(/\/+$/, '');
  return { bucket, folder: base ? `${base}/${id}` : id };
}

/** Streams one JSON array to a local file, entry by entry. */
export class ArrayFile {
  private readonly stream;
  count = 0;

  constructor(readonly file: string) {
    this.stream = createWriteStream(file, { flags: 'w' });
  }

  async add(entry: Json): Promise<void> {
    const text = `${this.count === 0 ? '[' : ','}${JSON.stringify(entry)}`;
    this.count += 1;
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream.once('drain', resolve));
  }

  async close(): Promise<void> {
    const tail = this.count === 0 ? '[]' : ']';
    await new Promise<void>((resolve, reject) => {
      this.stream.end(tail, (err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
}

/** Uploads the result files that have entries and the manifest; returns the Map state's result. */
export async function uploadResults(
  s3: S3Client | undefined,
  run: MapRunRecord,
  target: { bucket: string; folder: string },
  files: Record<ResultCategory, ArrayFile>,
): Promise<Json> {
  if (!s3)
    throw resultWriterFailed('the local Step Functions have no S3 client (LocalStepFunctionsOptions.s3)');
  const resultFiles: Record<ResultCategory, Json[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  try {
    for (const category of ['SUCCEEDED', 'FAILED', 'PENDING'] as const) {
      const file = files[category];
      if (file.count === 0) continue;
      const key = `${target.folder}/${category}_0.json`;
      const { size } = await stat(file.file);
      await s3.send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: key,
          Body: createReadStream(file.file),
          ContentLength: size,
          ContentType: 'application/json',
        }),
      );
      resultFiles[category].push({ Key: key, Size: size });
    }
    const manifestKey = `${target.folder}/manifest.json`;
    await s3.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: manifestKey,
        Body: JSON.stringify({
          DestinationBucket: target.bucket,
          MapRunArn: run.mapRunArn,
          ResultFiles: resultFiles,
        }),
        ContentType: 'application/json',
      }),
    );
    return { MapRunArn: run.mapRunArn, ResultWriterDetails: { Bucket: target.bucket, Key: manifestKey } };
  } catch (err) {
    throw resultWriterFailed(err);
  }
}

/** Collects the Map state's result array (no ResultWriter) and refuses it past the payload quota. */
export class InlineResults {
  private readonly parts: string[] = [];
  private bytes = 2;

  add(entry: Json): void {
    const text = JSON.stringify(entry);
    this.bytes += Buffer.byteLength(text) + 1;
    if (this.bytes > MAX_PAYLOAD_BYTES) {
      throw new TerminalTaskError(
        'States.DataLimitExceeded',
        'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
      );
    }
    this.parts.push(text);
  }

  result(): Json {
    return JSON.parse(`[${this.parts.join(',')}]`) as Json;
  }
}
