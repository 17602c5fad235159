import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactsService } from '../objects/artifacts.service';
import type { ObjectEventRecord, ObjectsRepository } from '../objects/objects.repository';
import type { ProcessingObject } from '../objects/processing-object.entity';
import { MeasuringStream } from '../operations/content/measure';
import type { ArtifactLink, LocalContent, ObjectUnderProcessing, OperationContext, WrittenFile } from '../operations/operation';
import { artifactKeys } from '../storage/artifact-keys';
import type { StorageService } from '../storage/storage.service';
import { ObjectCancelledError } from './cancellations';

export interface OperationRunDependencies {
  storage: StorageService;
  objects: ObjectsRepository;
  artifacts: ArtifactsService;
  memory: JobMemory;
  publishChange(event: ObjectEventRecord): Promise<void>;
}

/** Content up to this size is kept in memory for the rest of its job once read or written. */
export const SMALL_CONTENT_BYTES = 64 * 1024;

/**
 * The small content (source, results, files) one job read or wrote, by S3 key: the later operations
 * of the same job read it from here instead of S3. Also the job's local copy of its content and the
 * values its operations hand on (shareInJob). A job delivered again starts empty and reads S3.
 */
export class JobMemory {
  private readonly contents = new Map<string, { body: Buffer; contentType: string }>();
  private local?: Promise<LocalContent>;
  private readonly directories: string[] = [];
  readonly shared = new Map<string, unknown>();

  /**
   * The job's content as a local temporary file, downloaded by the first operation that asks and
   * shared by the later ones (validate and thumbnail both decode the same image); removed by release().
   */
  localContent(open: () => Promise<Readable>, signal: AbortSignal): Promise<LocalContent> {
    if (!this.local) {
      const local = this.download(open, signal);
      this.local = local;
      // A download that failed is not kept: the next operation that asks tries again.
      local.catch(() => {
        if (this.local === local) this.local = undefined;
      });
    }
    return this.local;
  }

  /** Removes the job's local files: called when the job ends, however it ends. */
  async release(): Promise<void> {
    this.local = undefined;
    this.shared.clear();
    await Promise.all(this.directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
  }

  private async download(open: () => Promise<Readable>, signal: AbortSignal): Promise<LocalContent> {
    const directory = await mkdtemp(join(tmpdir(), 'ops-job-'));
    this.directories.push(directory);
    const path = join(directory, 'content');
    const measured = new MeasuringStream();
    await pipeline(await open(), measured, createWriteStream(path), { signal });
    return { path, size: measured.size, sha256: measured.sha256 };
  }

  get(key: string): { body: Buffer; contentType: string } | undefined {
    return this.contents.get(key);
  }

  keep(key: string, body: Buffer, contentType: string): void {
    if (body.length <= SMALL_CONTENT_BYTES) {
      this.contents.set(key, { body, contentType });
    }
  }
}

/** One run of one operation on one object: the OperationContext the operation sees. */
export class OperationRun implements OperationContext {
  readonly object: ObjectUnderProcessing;
  readonly writtenFiles: WrittenFile[] = [];

  /**
   * `object` is the processor's record of the row, which it keeps up to date with its own writes
   * (the only writes while the object is processing): listArtifacts reads it rather than the row.
   */
  constructor(
    private readonly record: ProcessingObject,
    private readonly operation: string,
    readonly signal: AbortSignal,
    private readonly dependencies: OperationRunDependencies,
  ) {
    this.object = {
      id: record.id,
      identifier: record.identifier,
      metadata: record.metadata,
      options: record.options,
      source: record.source ?? null,
      createdAt: record.createdAt,
      plan: record.plan,
    };
  }

  async openContent(): Promise<Readable> {
    const { source, identifier, metadata } = this.object;
    if (source) {
      const key = this.dependencies.storage.keyOf(source.s3_url);
      const kept = this.dependencies.memory.get(key);
      if (kept) {
        return fromBuffer(kept.body);
      }
      if (source.size <= SMALL_CONTENT_BYTES) {
        const body = await this.dependencies.storage.getBuffer(key, this.signal);
        this.dependencies.memory.keep(key, body, source.content_type);
        return fromBuffer(body);
      }
      return this.dependencies.storage.getStream(key, this.signal);
    }
    return Readable.from([Buffer.from(JSON.stringify({ identifier, metadata }))]);
  }

  contentFile(): Promise<LocalContent> {
    return this.dependencies.memory.localContent(() => this.openContent(), this.signal);
  }

  shareInJob(key: string, value: unknown): void {
    this.dependencies.memory.shared.set(key, value);
  }

  sharedInJob<T>(key: string): T | undefined {
    return this.dependencies.memory.shared.get(key) as T | undefined;
  }

  async readResult<T>(operation: string): Promise<T> {
    const key = artifactKeys.result(this.object.identifier, operation);
    const body = this.dependencies.memory.get(key)?.body ?? (await this.dependencies.storage.getBuffer(key, this.signal));
    return JSON.parse(body.toString('utf8')) as T;
  }

  async openFile(operation: string, name: string): Promise<Readable> {
    const key = artifactKeys.file(this.object.identifier, operation, name);
    const kept = this.dependencies.memory.get(key);
    return kept ? fromBuffer(kept.body) : this.dependencies.storage.getStream(key, this.signal);
  }

  async copyFile(operation: string, name: string, as: string): Promise<WrittenFile> {
    const from = artifactKeys.file(this.object.identifier, operation, name);
    const to = artifactKeys.file(this.object.identifier, this.operation, as);
    const kept = this.dependencies.memory.get(from);
    // A small file this job wrote is put again from memory: one request rather than a HEAD and a copy.
    const stored = kept
      ? await this.dependencies.storage.putBuffer(to, kept.body, kept.contentType, this.signal)
      : await this.dependencies.storage.copy(from, to, this.signal);
    if (kept) {
      this.dependencies.memory.keep(to, kept.body, kept.contentType);
    }
    this.writtenFiles.push(stored);
    return stored;
  }

  async writeFile(name: string, body: Readable | Buffer, contentType: string): Promise<WrittenFile> {
    const key = artifactKeys.file(this.object.identifier, this.operation, name);
    const { body: kept, ...stored } = Buffer.isBuffer(body)
      ? { ...(await this.dependencies.storage.putBuffer(key, body, contentType, this.signal)), body: body.length <= SMALL_CONTENT_BYTES ? body : undefined }
      : await this.dependencies.storage.putStream(key, body, contentType, this.signal, SMALL_CONTENT_BYTES);
    if (kept) {
      this.dependencies.memory.keep(key, kept, contentType);
    }
    this.writtenFiles.push(stored);
    return stored;
  }

  async listArtifacts(): Promise<ArtifactLink[]> {
    const recorded = await this.dependencies.artifacts.links(this.record);
    const ownFiles = await Promise.all(
      this.writtenFiles.map(async (file) => {
        const { url, expiresAt } = await this.dependencies.storage.presignGet(file.key);
        return { operation: this.operation, key: file.key, s3_url: file.s3Url, url, expires_at: expiresAt.toISOString() };
      }),
    );
    return [...recorded, ...ownFiles];
  }

  async reportProgress(message: string): Promise<void> {
    const recorded = await this.dependencies.objects.updateWhileProcessing(
      this.object.id,
      { progressMessage: `${this.operation}: ${message}` },
      { kind: 'operation_progress', operation: this.operation },
    );
    if (recorded === null) {
      throw new ObjectCancelledError(this.object.id);
    }
    await this.dependencies.publishChange(recorded);
  }
}

function fromBuffer(body: Buffer): Readable {
  return Readable.from([body], { objectMode: false });
}
