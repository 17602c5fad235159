import type { Readable } from 'node:stream';
import { DiscoveryService } from '@nestjs/core';
import type { ObjectSource } from '../objects/processing-object.entity';

/** Marks a provider as an operation; the registry finds every provider carrying it. */
export const Operation = DiscoveryService.createDecorator<void>();

export interface ObjectUnderProcessing {
  id: string;
  identifier: string;
  metadata: Record<string, unknown>;
  options: Record<string, unknown>;
  source: ObjectSource | null;
  createdAt: Date;
  /** The operations the object runs, in order. */
  plan: readonly string[];
}

export interface WrittenFile {
  key: string;
  s3Url: string;
  size: number;
}

export interface LocalContent {
  path: string;
  size: number;
  sha256: string;
}

/** Bytes one operation hands to the later ones of its job, and what they are (`about`, plain data). */
export interface SharedBytes<T> {
  about: T;
  bytes: Buffer;
}

export interface ArtifactLink {
  operation: string;
  key: string;
  s3_url: string;
  url: string;
  expires_at: string;
}

/** What an operation gets to work with. All content is read and written as streams. */
export interface OperationContext {
  readonly object: ObjectUnderProcessing;
  /** Aborted when the object is cancelled; pass it to every call that can take it. */
  readonly signal: AbortSignal;
  /** The object's content as bytes: the stored source, or its metadata document when it has none. */
  openContent(): Promise<Readable>;
  /**
   * The object's content as a local temporary file, downloaded once per job and shared by its
   * operations (for libraries that read files, such as sharp); removed when the job ends. `size`
   * and `sha256` are measured as it was written.
   */
  contentFile(): Promise<LocalContent>;
  /**
   * Hands bytes this operation computed, with what describes them, to the later operations of the
   * same job (sharedInJob). The bytes go to a file of the job's own rather than between processes;
   * a job delivered again starts without them, so the later operations must be able to do without.
   */
  shareInJob<T>(key: string, shared: SharedBytes<T>): Promise<void>;
  sharedInJob<T>(key: string): Promise<SharedBytes<T> | undefined>;
  /** The parsed `<operation>_result.json` of an operation that ran before this one. */
  readResult<T>(operation: string): Promise<T>;
  /** A file written by an earlier operation under `<identifier>/<operation>/<name>`. */
  openFile(operation: string, name: string): Promise<Readable>;
  /** Copies the file `name` of an earlier operation to `<identifier>/<operation>/<as>` of this one, without reading it. */
  copyFile(operation: string, name: string, as: string): Promise<WrittenFile>;
  /** Stores a file of this operation's own at `<identifier>/<operation>/<name>`: a stream in parts, a buffer in one request. */
  writeFile(name: string, body: Readable | Buffer, contentType: string): Promise<WrittenFile>;
  /** Every artifact of the object so far, with presigned download URLs. */
  listArtifacts(): Promise<ArtifactLink[]>;
  /** Reports progress within the operation to everyone following the object. */
  reportProgress(message: string): Promise<void>;
}

/** Expected outcomes are values; operations throw only for errors worth retrying. */
export type OperationOutcome = { status: 'completed'; result: Record<string, unknown> } | { status: 'failed'; reason: string };

export interface ProcessingOperation {
  /** One of the catalog's (operation-catalog.ts), where what it depends on is declared. */
  readonly name: string;
  run(context: OperationContext): Promise<OperationOutcome>;
}

export function completed(result: Record<string, unknown>): OperationOutcome {
  return { status: 'completed', result };
}

export function failed(reason: string): OperationOutcome {
  return { status: 'failed', reason };
}
