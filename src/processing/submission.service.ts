import { Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, DependencyUnavailableError, ValidationError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { ObjectEvents } from '../events/object-events';
import { ObjectsRepository, UniqueConstraintViolationException } from '../objects/objects.repository';
import { jobPriority } from '../objects/objects.service';
import type { ProcessingObject } from '../objects/processing-object.entity';
import { checkOperationOptions } from '../operations/operation-options';
import { UnknownOperationError } from '../operations/operation-planner';
import { OperationRegistry } from '../operations/operation-registry';
import { JobName, taskIdFor } from '../queue/jobs';
import { ProcessingQueue } from '../queue/processing-queue';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import type { SubmitObjectDto } from './dto/submit-object.dto';

export interface SubmissionResponse {
  id: string;
  identifier: string;
  state: 'queued';
  task_id: string;
  message: string;
}

const MAX_INSERT_ATTEMPTS = 3;

/** Creates objects: one row, its source in S3 and its job, or nothing at all. */
@Injectable()
export class SubmissionService {
  constructor(
    private readonly objects: ObjectsRepository,
    private readonly operations: OperationRegistry,
    private readonly storage: StorageService,
    private readonly queue: ProcessingQueue,
    private readonly events: ObjectEvents,
  ) {}

  async submit(request: SubmitObjectDto, idempotencyKey: string | undefined): Promise<SubmissionResponse> {
    const operations = [...new Set(request.operations)];
    const plan = this.planFor(operations);
    const options = checkOperationOptions(request.options);
    if (!options.ok) {
      throw new ValidationError(options.problems.join('; '), options.problems);
    }
    const requestHash = hashRequest(request);
    for (let attempt = 1; attempt <= MAX_INSERT_ATTEMPTS; attempt++) {
      const existing = await this.objects.findByIdentifier(request.identifier);
      if (existing) {
        return this.answerForExisting(existing, idempotencyKey, requestHash);
      }
      try {
        return await this.create(request, operations, plan, idempotencyKey, requestHash);
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) {
          throw error;
        }
      }
    }
    throw new ConflictError(ErrorCode.IdentifierTaken, `Identifier '${request.identifier}' is being submitted concurrently; try again`);
  }

  private planFor(operations: string[]): string[] {
    try {
      return this.operations.plan(operations);
    } catch (error) {
      if (error instanceof UnknownOperationError) {
        throw new ValidationError(`${error.message}. Valid operations: ${this.operations.names.join(', ')}`, { unknown: error.unknown, valid: this.operations.names }, ErrorCode.UnknownOperation);
      }
      throw error;
    }
  }

  private async create(
    request: SubmitObjectDto,
    operations: string[],
    plan: string[],
    idempotencyKey: string | undefined,
    requestHash: string,
  ): Promise<SubmissionResponse> {
    const id = randomUUID();
    const taskId = taskIdFor(id, 1);
    const sourceKey = request.payload !== undefined ? artifactKeys.source(request.identifier, 'payload.json') : undefined;
    let version: number;
    try {
      version = await this.objects.inTransaction(async (transaction) => {
        await transaction.insertPending({
          id,
          identifier: request.identifier,
          operations,
          plan,
          metadata: request.metadata ?? {},
          options: request.options ?? {},
          priority: request.priority ?? 5,
          idempotencyKey: idempotencyKey ?? null,
          requestHash,
        });
        const source = sourceKey ? await this.storePayload(sourceKey, request.payload) : undefined;
        return transaction.transition(id, 'queued', { taskId, incrementAttempts: true, source, progressMessage: 'Queued for processing' });
      });
    } catch (error) {
      if (sourceKey && !(error instanceof UniqueConstraintViolationException)) {
        await this.storage.deleteKeys([sourceKey]).catch(() => undefined);
      }
      throw error;
    }
    try {
      await this.queue.enqueue({ name: JobName.ProcessObject, data: { objectId: id } }, { jobId: taskId, priority: jobPriority(request.priority ?? 5) });
    } catch (error) {
      await this.objects.deleteById(id, ['queued']);
      if (sourceKey) {
        await this.storage.deleteKeys([sourceKey]).catch(() => undefined);
      }
      throw new DependencyUnavailableError('The job queue', error);
    }
    await this.events.publishChange({ id, version });
    return firstResponse({ id, identifier: request.identifier });
  }

  private async storePayload(key: string, payload: unknown) {
    const body = Buffer.from(JSON.stringify(payload));
    try {
      const stored = await this.storage.putBuffer(key, body, 'application/json');
      return {
        content_type: 'application/json',
        size: stored.size,
        sha256: createHash('sha256').update(body).digest('hex'),
        s3_url: stored.s3Url,
      };
    } catch (error) {
      throw new DependencyUnavailableError('Object storage', error);
    }
  }

  private answerForExisting(existing: ProcessingObject, idempotencyKey: string | undefined, requestHash: string): SubmissionResponse {
    if (idempotencyKey !== undefined && existing.idempotencyKey === idempotencyKey) {
      if (existing.requestHash !== requestHash) {
        throw new ConflictError(ErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was used with a different request body', { id: existing.id });
      }
      return firstResponse(existing);
    }
    throw new ConflictError(ErrorCode.IdentifierTaken, `An object with identifier '${existing.identifier}' already exists (id ${existing.id})`, {
      id: existing.id,
      identifier: existing.identifier,
      state: existing.state,
    });
  }
}

function firstResponse(object: { id: string; identifier: string }): SubmissionResponse {
  return { id: object.id, identifier: object.identifier, state: 'queued', task_id: taskIdFor(object.id, 1), message: 'Object queued for processing' };
}

function hashRequest(request: SubmitObjectDto): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`;
  }
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
