import { Readable } from 'node:stream';
import type { ArtifactsService } from '../objects/artifacts.service';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ProcessingObject } from '../objects/processing-object.entity';
import type { ArtifactLink, ObjectUnderProcessing, OperationContext, WrittenFile } from '../operations/operation';
import { artifactKeys } from '../storage/artifact-keys';
import type { StorageService } from '../storage/storage.service';
import { ObjectCancelledError } from './cancellations';

export interface OperationRunDependencies {
  storage: StorageService;
  objects: ObjectsRepository;
  artifacts: ArtifactsService;
  publishChange(version: number): Promise<void>;
}

/** One run of one operation on one object: the OperationContext the operation sees. */
export class OperationRun implements OperationContext {
  readonly object: ObjectUnderProcessing;
  readonly writtenFiles: WrittenFile[] = [];

  constructor(
    object: ProcessingObject,
    private readonly operation: string,
    readonly signal: AbortSignal,
    private readonly dependencies: OperationRunDependencies,
  ) {
    this.object = {
      id: object.id,
      identifier: object.identifier,
      metadata: object.metadata,
      options: object.options,
      source: object.source ?? null,
      createdAt: object.createdAt,
    };
  }

  async openContent(): Promise<Readable> {
    const { source, identifier, metadata } = this.object;
    if (source) {
      return this.dependencies.storage.getStream(this.dependencies.storage.keyOf(source.s3_url), this.signal);
    }
    return Readable.from([Buffer.from(JSON.stringify({ identifier, metadata }))]);
  }

  async readResult<T>(operation: string): Promise<T> {
    const body = await this.dependencies.storage.getBuffer(artifactKeys.result(this.object.identifier, operation), this.signal);
    return JSON.parse(body.toString('utf8')) as T;
  }

  async openFile(operation: string, name: string): Promise<Readable> {
    return this.dependencies.storage.getStream(artifactKeys.file(this.object.identifier, operation, name), this.signal);
  }

  async writeFile(name: string, body: Readable, contentType: string): Promise<WrittenFile> {
    const key = artifactKeys.file(this.object.identifier, this.operation, name);
    const stored = await this.dependencies.storage.putStream(key, body, contentType, this.signal);
    this.writtenFiles.push(stored);
    return stored;
  }

  async listArtifacts(): Promise<ArtifactLink[]> {
    const current = await this.dependencies.objects.getById(this.object.id);
    const recorded = await this.dependencies.artifacts.links(current);
    const ownFiles = await Promise.all(
      this.writtenFiles.map(async (file) => {
        const { url, expiresAt } = await this.dependencies.storage.presignGet(file.key);
        return { operation: this.operation, key: file.key, s3_url: file.s3Url, url, expires_at: expiresAt.toISOString() };
      }),
    );
    return [...recorded, ...ownFiles];
  }

  async reportProgress(message: string): Promise<void> {
    const version = await this.dependencies.objects.updateWhileProcessing(
      this.object.id,
      { progressMessage: `${this.operation}: ${message}` },
      { kind: 'operation_progress', operation: this.operation },
    );
    if (version === null) {
      throw new ObjectCancelledError(this.object.id);
    }
    await this.dependencies.publishChange(version);
  }
}
