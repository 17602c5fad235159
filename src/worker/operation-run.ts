import { Readable } from 'node:stream';
import type { ArtifactsService, ArtifactSources } from '../objects/artifacts.service';
import type {
  ArtifactLink,
  LocalContent,
  ObjectUnderProcessing,
  OperationContext,
  SharedBytes,
  WrittenFile,
} from '../operations/operation';
import { artifactKeys } from '../storage/artifact-keys';
import type { StorageService } from '../storage/storage.service';
import { JobMemory, SMALL_CONTENT_BYTES, asBuffer } from './job-memory';

export interface OperationRunDependencies {
  storage: StorageService;
  artifacts: ArtifactsService;
  memory: JobMemory;
  /** Passes a progress message on to the job, which records and publishes it. */
  reportProgress(message: string): void;
}

/**
 * The object as one operation run sees it: what the operation may read, what its artifacts list is built from,
 * and the bytes of a source kept inline (a small payload; null otherwise).
 */
export type ObjectForRun = ObjectUnderProcessing & ArtifactSources & { sourceInline: Uint8Array | null };

/** One run of one operation on one object, inside an operation process: the OperationContext the operation sees. */
export class OperationRun implements OperationContext {
  readonly object: ObjectUnderProcessing;
  readonly writtenFiles: WrittenFile[] = [];

  constructor(
    private readonly record: ObjectForRun,
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
    if (source && source.s3_url === undefined) {
      if (!this.record.sourceInline) {
        throw new Error(`The inline source of ${identifier} is missing`);
      }
      return fromBuffer(asBuffer(this.record.sourceInline));
    }
    if (source?.s3_url) {
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

  shareInJob<T>(key: string, shared: SharedBytes<T>): Promise<void> {
    return this.dependencies.memory.share(key, shared);
  }

  sharedInJob<T>(key: string): Promise<SharedBytes<T> | undefined> {
    return this.dependencies.memory.sharedBytes<T>(key);
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
      ? {
          ...(await this.dependencies.storage.putBuffer(key, body, contentType, this.signal)),
          body: body.length <= SMALL_CONTENT_BYTES ? body : undefined,
        }
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

  reportProgress(message: string): Promise<void> {
    this.dependencies.reportProgress(`${this.operation}: ${message}`);
    return Promise.resolve();
  }
}

function fromBuffer(body: Buffer): Readable {
  return Readable.from([body], { objectMode: false });
}
