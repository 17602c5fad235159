import { Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, DependencyUnavailableError, DomainError, ValidationError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { checkJsonValue } from '../common/json-limits';
import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { NewObject } from '../objects/object-records';
import { ObjectStateStore } from '../objects/object-state-store';
import { ObjectsRepository } from '../objects/objects.repository';
import type { ObjectSource, ProcessingObject } from '../objects/processing-object.entity';
import { AppConfig } from '../config/app-config';
import { budgetProblems } from '../operations/operation-budget';
import { checkOperationOptions } from '../operations/operation-options';
import { UnknownOperationError } from '../operations/operation-planner';
import { OperationCatalog } from '../operations/operation-catalog';
import { taskIdFor } from '../queue/jobs';
import { ProcessingQueue } from '../queue/processing-queue';
import type { ObjectToQueue } from '../queue/object-job';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import type { SubmitObjectDto } from './dto/submit-object.dto';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { toMultipartError } from './multipart-submission';
import type { ClassifiedUpload } from './upload-content';
import { BatchItemResult, BatchResponse, KeptResponse, SubmissionResponse, firstResponse } from './submission-response';
import { validateSubmission } from './dto/validate-submission';
import { errorBody } from '../common/http-exception.filter';
import { TeamQueueCap } from '../objects/team-queue-cap';
import type { ObjectWebhook } from '../objects/processing-object.entity';
import { WebhooksService } from '../webhooks/webhooks.service';

const MAX_INSERT_ATTEMPTS = 3;
/** How many items of a batch are created at once (each is a few statements, and an S3 PUT when it has a payload). */
const BATCH_CONCURRENCY = 8;

interface Prepared {
  identifier: string;
  team: string;
  operations: string[];
  plan: string[];
  webhook: ObjectWebhook | null;
}

/** Creates objects: one row, its source (in the row when small, in S3 otherwise) and its job, or nothing at all. */
@Injectable()
export class SubmissionService {
  private readonly logger = new Logger(SubmissionService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly objects: ObjectsRepository,
    private readonly states: ObjectStateStore,
    private readonly operations: OperationCatalog,
    private readonly storage: StorageService,
    private readonly queue: ProcessingQueue,
    private readonly idempotencyKeys: IdempotencyKeysRepository,
    private readonly teamQueue: TeamQueueCap,
    private readonly webhooks: WebhooksService,
  ) {}

  /** A JSON submission of `team`: inline `payload` content, or none (the operations run on the metadata document). */
  async submit(request: SubmitObjectDto, idempotencyKey: string | undefined, team: string): Promise<SubmissionResponse> {
    const prepared = await this.prepare(request, team);
    // Only an Idempotency-Key replay compares requests: a submission without one is not hashed.
    const requestHash = idempotencyKey === undefined ? null : hashRequest(request);
    const create = () =>
      this.createUnlessTaken(
        prepared,
        idempotencyKey,
        requestHash,
        () => Promise.resolve(),
        () => this.createWithPayload(request, prepared, idempotencyKey, requestHash),
      );
    return this.underIdempotencyKey(team, idempotencyKey, {
      requestHash: () => Promise.resolve(requestHash ?? hashRequest(request)),
      create,
      objectIdOf: (response) => response.id,
    });
  }

  /**
   * Up to MAX_BATCH_ITEMS JSON submissions of `team` in one request: each item is validated and created as
   * POST /api/v1/process would, and refused alone (nothing written for it) when it would be refused there; the
   * accepted ones' jobs are added in one bulk. If the queue cannot take them, none of them stays.
   */
  async submitBatch(items: unknown[], idempotencyKey: string | undefined, team: string): Promise<BatchResponse> {
    const requestHash = idempotencyKey === undefined ? null : hashRequest({ batch: items });
    return this.underIdempotencyKey(team, idempotencyKey, {
      requestHash: () => Promise.resolve(requestHash ?? hashRequest({ batch: items })),
      create: () => this.createBatch(items, team),
      objectIdOf: () => null,
    });
  }

  private async createBatch(items: unknown[], team: string): Promise<BatchResponse> {
    const results: BatchItemResult[] = new Array<BatchItemResult>(items.length);
    const refuse = (index: number, error: DomainError) => {
      results[index] = { index, status: error.status, error: errorBody(error.status, error.code, error.message, error.details) };
    };
    const candidates: { index: number; request: SubmitObjectDto; prepared: Prepared }[] = [];
    const firstWith = new Map<string, number>();
    for (const [index, item] of items.entries()) {
      try {
        const request = await validateSubmission(item);
        const earlier = firstWith.get(request.identifier);
        if (earlier !== undefined) {
          // Items are created several at once: the one first in the request gets the identifier, whatever finishes first.
          throw new ConflictError(
            ErrorCode.IdentifierTaken,
            `Identifier '${request.identifier}' is taken by item ${earlier} of this batch`,
            { index: earlier },
          );
        }
        firstWith.set(request.identifier, index);
        candidates.push({ index, request, prepared: await this.prepare(request, team) });
      } catch (error) {
        if (!(error instanceof DomainError)) {
          throw error;
        }
        refuse(index, error);
      }
    }
    let room = await this.teamQueue.room(team, candidates.length);
    const created: { index: number; request: SubmitObjectDto; prepared: Prepared; id: string; sourceKey?: string }[] = [];
    try {
      for (let start = 0; start < candidates.length; start += BATCH_CONCURRENCY) {
        await Promise.all(
          candidates.slice(start, start + BATCH_CONCURRENCY).map(async ({ index, request, prepared }) => {
            if (room <= 0) {
              refuse(index, this.teamQueue.full(team));
              return;
            }
            room--;
            try {
              const row = await this.createQueued(request, prepared, undefined, null);
              created.push({ index, request, prepared, ...row });
            } catch (error) {
              room++;
              refuse(index, await this.refusalOfItem(error, request, team));
            }
          }),
        );
      }
      this.teamQueue.queued(team, created.length);
      await this.queue.enqueueAll(created.map(({ request, id }) => firstRun(request, id)));
    } catch (error) {
      await this.removeQueued(created);
      if (error instanceof DomainError) {
        throw error;
      }
      throw new DependencyUnavailableError('The job queue', error);
    }
    for (const { index, request, prepared, id } of created) {
      results[index] = { index, status: 202, result: firstResponse({ id, identifier: request.identifier, webhook: prepared.webhook }) };
    }
    return { accepted: created.length, refused: items.length - created.length, items: results };
  }

  /** Why a batch item could not be created: its identifier is taken (answered as for a single submission), or a refusal of its own; anything else fails the batch. */
  private async refusalOfItem(error: unknown, request: SubmitObjectDto, team: string): Promise<DomainError> {
    if (error instanceof UniqueConstraintViolationException) {
      const existing = await this.objects.findByIdentifier(request.identifier);
      return existing
        ? this.identifierTaken(existing, team)
        : new ConflictError(ErrorCode.IdentifierTaken, `Identifier '${request.identifier}' is being submitted concurrently; try again`);
    }
    if (error instanceof DomainError) {
      return error;
    }
    throw error;
  }

  /** Best effort: the failure that led here is the answer, and a source left behind costs only storage. */
  private async removeSource(sourceKey: string, of: string): Promise<void> {
    await this.storage
      .deleteKeys([sourceKey])
      .catch((error: unknown) => this.logger.warn(`Removing the source ${sourceKey} of ${of} failed: ${String(error)}`));
  }

  /** Objects of a failed batch: their rows and their sources go again. */
  private async removeQueued(created: readonly { id: string; sourceKey?: string }[]): Promise<void> {
    for (const { id, sourceKey } of created) {
      await this.objects.deleteById(id, ['queued']);
      if (sourceKey) {
        await this.removeSource(sourceKey, 'a failed batch');
      }
    }
  }

  /**
   * A multipart submission: the file streams to S3 as the object's source. The row is committed
   * as `pending` first, so a concurrent duplicate is refused at once; if anything fails after
   * that (size limit, client gone, S3, `afterStored`), the stored object and the row go again.
   * `afterStored` runs once the file is stored, before the object is queued.
   */
  async submitUpload(
    request: SubmitObjectDto,
    idempotencyKey: string | undefined,
    team: string,
    upload: ClassifiedUpload,
    afterStored: () => Promise<void> = () => Promise.resolve(),
  ): Promise<SubmissionResponse> {
    if (request.payload !== undefined) {
      throw new ValidationError('Send either a payload (JSON) or a file (multipart), not both', [
        { field: 'payload', message: 'not allowed with a file' },
      ]);
    }
    const prepared = await this.prepare(request, team);
    // The file's own hash is known only once it has been read: the replay check compares it then.
    const fieldsHash = () =>
      hashRequest({ ...request, upload: { content_type: upload.type.contentType, filename: upload.filename ?? null } });
    const requestHash = idempotencyKey === undefined ? null : fieldsHash();
    const verifyReplay = async (existing: ProcessingObject) => {
      const { sha256 } = await upload.consume();
      if (existing.source && existing.source.sha256 !== sha256) {
        throw new ConflictError(ErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was used with a different file', { id: existing.id });
      }
    };
    const create = () =>
      this.createUnlessTaken(prepared, idempotencyKey, requestHash, verifyReplay, () =>
        this.createWithUpload(request, prepared, idempotencyKey, requestHash, upload, afterStored),
      );
    // The key compares the whole request: the fields and the file's bytes.
    const wholeRequestHash = async () =>
      hashRequest({ fields: requestHash ?? fieldsHash(), sha256: (await upload.contentDigest()).sha256 });
    return this.underIdempotencyKey(team, idempotencyKey, { requestHash: wholeRequestHash, create, objectIdOf: (response) => response.id });
  }

  /**
   * Runs the submission under its Idempotency-Key, if it has one: a free key is claimed for it and
   * keeps its response; a kept key answers with the first response when the request is the same,
   * and with 409 otherwise, having written nothing. A failed submission frees the key again.
   */
  private async underIdempotencyKey<R extends KeptResponse>(
    team: string,
    idempotencyKey: string | undefined,
    submission: { requestHash: () => Promise<string>; create: () => Promise<R>; objectIdOf: (response: R) => string | null },
  ): Promise<R> {
    if (idempotencyKey === undefined) {
      return submission.create();
    }
    const claim = await this.idempotencyKeys.claim(team, idempotencyKey);
    if ('response' in claim) {
      if (claim.requestHash !== (await submission.requestHash())) {
        throw new ConflictError(ErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was used with a different request', {
          id: claim.objectId,
        });
      }
      // The same request hash: the same kind of request made it, so it is the same kind of answer.
      return claim.response as R;
    }
    let response: R;
    try {
      response = await submission.create();
    } catch (error) {
      await claim
        .release()
        .catch((releaseError: unknown) =>
          this.logger.warn(
            `Freeing the Idempotency-Key of a failed submission failed; it frees when its claim lapses: ${String(releaseError)}`,
          ),
        );
      throw error;
    }
    try {
      await claim.keep({ requestHash: await submission.requestHash(), objectId: submission.objectIdOf(response), response });
    } catch (error) {
      // The objects exist and are queued: that is the answer. A retry of a single submission with the key finds it by its identifier (answerForExisting).
      this.logger.warn(
        `Keeping the Idempotency-Key of ${submission.objectIdOf(response) ?? 'a batch'} failed; the key frees when its claim lapses: ${String(error)}`,
      );
    }
    return response;
  }

  private async prepare(request: SubmitObjectDto, team: string): Promise<Prepared> {
    for (const field of ['metadata', 'options', 'payload'] as const) {
      checkJsonValue(field, request[field]);
    }
    const operations = [...new Set(request.operations)];
    const plan = this.planFor(operations);
    const options = checkOperationOptions(request.options);
    const problems = options.ok ? budgetProblems(options.options.budget, this.config) : options.problems;
    if (problems.length > 0) {
      throw new ValidationError(problems.join('; '), problems);
    }
    // The destination is resolved last: a submission refused for its own fields costs no DNS lookup.
    const webhook = request.webhook ? await this.webhooks.objectWebhook(request.webhook) : null;
    return { identifier: request.identifier, team, operations, plan, webhook };
  }

  /**
   * Creates the object unless its team's queue is full (429) or its identifier is taken: then 409, or the first
   * response for an Idempotency-Key replay.
   */
  private async createUnlessTaken(
    { identifier, team }: Prepared,
    idempotencyKey: string | undefined,
    requestHash: string | null,
    verifyReplay: (existing: ProcessingObject) => Promise<void>,
    create: () => Promise<SubmissionResponse>,
  ): Promise<SubmissionResponse> {
    await this.teamQueue.check(team);
    // Insert first and look the holder up only on a clash: the common case costs no extra query.
    for (let attempt = 1; attempt <= MAX_INSERT_ATTEMPTS; attempt++) {
      try {
        return await create();
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) {
          throw error;
        }
      }
      const existing = await this.objects.findByIdentifier(identifier);
      if (existing) {
        const answer = this.answerForExisting(existing, team, idempotencyKey, requestHash);
        await verifyReplay(existing);
        return answer;
      }
    }
    throw new ConflictError(ErrorCode.IdentifierTaken, `Identifier '${identifier}' is being submitted concurrently; try again`);
  }

  private planFor(operations: string[]): string[] {
    try {
      return this.operations.plan(operations);
    } catch (error) {
      if (error instanceof UnknownOperationError) {
        throw new ValidationError(
          `${error.message}. Valid operations: ${this.operations.names.join(', ')}`,
          { unknown: error.unknown, valid: this.operations.names },
          ErrorCode.UnknownOperation,
        );
      }
      throw error;
    }
  }

  private newObject(
    request: SubmitObjectDto,
    { team, operations, plan, webhook }: Prepared,
    id: string,
    idempotencyKey: string | undefined,
    requestHash: string | null,
  ): NewObject {
    return {
      id,
      identifier: request.identifier,
      team,
      operations,
      plan,
      metadata: request.metadata ?? {},
      options: request.options ?? {},
      priority: request.priority ?? 5,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      webhook,
    };
  }

  private async createWithPayload(
    request: SubmitObjectDto,
    prepared: Prepared,
    idempotencyKey: string | undefined,
    requestHash: string | null,
  ): Promise<SubmissionResponse> {
    const { id, sourceKey } = await this.createQueued(request, prepared, idempotencyKey, requestHash);
    return this.enqueue(request, prepared, id, sourceKey);
  }

  /**
   * The queued row of a JSON submission; its job is still to be added. A payload up to PAYLOAD_INLINE_MAX_BYTES
   * is kept in the row itself; a larger one is stored in S3 first, as an upload is.
   */
  private async createQueued(
    request: SubmitObjectDto,
    prepared: Prepared,
    idempotencyKey: string | undefined,
    requestHash: string | null,
  ): Promise<{ id: string; sourceKey?: string }> {
    const id = randomUUID();
    const taskId = taskIdFor(id, 1);
    const newObject = this.newObject(request, prepared, id, idempotencyKey, requestHash);
    if (request.payload === undefined) {
      await this.states.insertQueued(newObject, { taskId, source: null });
      return { id };
    }
    const body = Buffer.from(JSON.stringify(request.payload));
    const source: ObjectSource = {
      content_type: 'application/json',
      size: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    };
    if (body.length <= this.config.limits.payloadInlineBytes) {
      await this.states.insertQueued(newObject, { taskId, source, sourceInline: body });
      return { id };
    }
    const sourceKey = artifactKeys.source(request.identifier, 'payload.json');
    await this.createStoringSource(newObject, sourceKey, async () => {
      await this.storePayload(sourceKey, body);
      return { ...source, s3_url: this.storage.s3Url(sourceKey) };
    });
    return { id, sourceKey };
  }

  private async createWithUpload(
    request: SubmitObjectDto,
    prepared: Prepared,
    idempotencyKey: string | undefined,
    requestHash: string | null,
    upload: ClassifiedUpload,
    afterStored: () => Promise<void>,
  ): Promise<SubmissionResponse> {
    const id = randomUUID();
    const sourceKey = artifactKeys.source(request.identifier, `upload.${upload.type.extension}`);
    await this.createStoringSource(this.newObject(request, prepared, id, idempotencyKey, requestHash), sourceKey, async () => {
      const stored = await this.storeUpload(sourceKey, upload);
      await afterStored();
      const { size, sha256 } = upload.digest();
      const source: ObjectSource = { content_type: upload.type.contentType, size, sha256, s3_url: stored.s3Url };
      if (upload.filename) {
        source.filename = upload.filename;
      }
      return source;
    });
    return this.enqueue(request, prepared, id, sourceKey);
  }

  /**
   * Creates the object with its source stored in S3 under `sourceKey` by `store`. The row is committed as
   * `pending` first, so its identifier (the key's prefix) is this object's before anything is written to
   * S3, and no transaction stays open across S3; the row is queued once the source is stored. If anything
   * fails after the insert, the stored source and the row go again.
   */
  private async createStoringSource(newObject: NewObject, sourceKey: string, store: () => Promise<ObjectSource>): Promise<void> {
    await this.objects.insertPending(newObject);
    try {
      const source = await store();
      const queued = { taskId: taskIdFor(newObject.id, 1), incrementAttempts: true, source, progressMessage: 'Queued for processing' };
      await this.states.transition(newObject.id, 'queued', queued, ['pending']);
    } catch (error) {
      // A failed streaming upload has aborted its multipart upload; a completed one is removed here.
      await this.removeSource(sourceKey, 'a failed submission');
      await this.objects
        .deleteById(newObject.id, ['pending'])
        .catch((cleanupError: unknown) =>
          this.logger.warn(`Removing the pending object ${newObject.id} of a failed submission failed: ${String(cleanupError)}`),
        );
      throw error;
    }
  }

  /** Queues the job of a just-queued object; if the queue is down, the object and its source go again. */
  private async enqueue(
    request: SubmitObjectDto,
    prepared: Prepared,
    id: string,
    sourceKey: string | undefined,
  ): Promise<SubmissionResponse> {
    try {
      await this.queue.enqueue(firstRun(request, id));
    } catch (error) {
      await this.objects.deleteById(id, ['queued']);
      if (sourceKey) {
        await this.removeSource(sourceKey, 'an object whose job could not be queued');
      }
      throw new DependencyUnavailableError('The job queue', error);
    }
    return firstResponse({ id, identifier: request.identifier, webhook: prepared.webhook });
  }

  private async storeUpload(key: string, upload: ClassifiedUpload) {
    const body = upload.body();
    let bodyError: unknown;
    body.once('error', (error) => (bodyError = error));
    try {
      return await this.storage.putStream(key, body, upload.type.contentType);
    } catch (error) {
      // The body's own refusal (over the limit) is the answer, even when aborting the S3 multipart upload failed too;
      // the multipart parser's errors (client gone, malformed form) are the client's; anything else is S3.
      const cause = bodyError ?? error;
      if (bodyError !== undefined && error !== bodyError) {
        this.logger.warn(
          `Cleaning up the refused upload ${key} failed too (an unfinished S3 multipart upload may remain): ${String(error)}`,
        );
      }
      if (cause instanceof DomainError) {
        throw cause;
      }
      const converted = toMultipartError(cause);
      if (converted !== cause) {
        throw converted;
      }
      throw new DependencyUnavailableError('Object storage', error);
    }
  }

  private async storePayload(key: string, body: Buffer): Promise<void> {
    try {
      await this.storage.putBuffer(key, body, 'application/json');
    } catch (error) {
      throw new DependencyUnavailableError('Object storage', error);
    }
  }

  /**
   * The key's own row answers replays; the key and request hash on the object row still answer a
   * retry whose key was not kept (the process died, or keeping it failed, after the object was created).
   */
  private answerForExisting(
    existing: ProcessingObject,
    team: string,
    idempotencyKey: string | undefined,
    requestHash: string | null,
  ): SubmissionResponse {
    if (existing.team === team && idempotencyKey !== undefined && existing.idempotencyKey === idempotencyKey) {
      if (existing.requestHash !== requestHash) {
        throw new ConflictError(ErrorCode.IdempotencyKeyReused, 'This Idempotency-Key was used with a different request body', {
          id: existing.id,
        });
      }
      return firstResponse(existing);
    }
    throw this.identifierTaken(existing, team);
  }

  private identifierTaken(existing: ProcessingObject, team: string): ConflictError {
    if (existing.team !== team) {
      // Identifiers are global (they are the S3 prefix), but nothing else of another team's object is told.
      return new ConflictError(ErrorCode.IdentifierTaken, `Identifier '${existing.identifier}' is taken`);
    }
    return new ConflictError(
      ErrorCode.IdentifierTaken,
      `An object with identifier '${existing.identifier}' already exists (id ${existing.id})`,
      {
        id: existing.id,
        identifier: existing.identifier,
        state: existing.state,
      },
    );
  }
}

/** The first run of a just-queued object, as its job is queued. */
function firstRun(request: SubmitObjectDto, id: string): ObjectToQueue {
  return { id, taskId: taskIdFor(id, 1), priority: request.priority ?? 5 };
}

function hashRequest(request: SubmitObjectDto | Record<string, unknown>): string {
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
