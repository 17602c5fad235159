import { Injectable, Logger } from '@nestjs/common';
import {
  ConflictError,
  DependencyUnavailableError,
  InvalidTransitionError,
  ObjectNotFoundError,
  ValidationError,
} from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { ObjectNotifications } from '../notifications/object-notifications';
import { OperationCatalog } from '../operations/operation-catalog';
import { taskIdFor } from '../queue/jobs';
import { ProcessingQueue } from '../queue/processing-queue';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import { ArtifactsService } from './artifacts.service';
import { IDENTIFIER_RULE, isValidIdentifier } from './identifier';
import { decodeCursor, encodeCursor } from './list-cursor';
import { ObjectView, toObjectView } from './object.presenter';
import { isSettled } from './object-state';
import type { ObjectListFilter } from './object-records';
import { ObjectStateStore } from './object-state-store';
import { ObjectsRepository } from './objects.repository';
import type { ProcessingObject } from './processing-object.entity';
import { isUuid } from '../common/object-id.pipe';
import type { SharedFilter } from './dto/object-filter.fields';
import { TeamQueueCap } from './team-queue-cap';
import { TeamQueueFullError } from '../access/access-errors';
import { Principal, visibleTeam } from '../access/principal';

/** How many objects a bulk retry re-queues at once. */
const BULK_RETRY_CONCURRENCY = 8;

export interface RetryOptions {
  fromScratch?: boolean;
  /** The operation to run again from: it and every later one in the plan. */
  from?: string;
}

/** A list request as the API takes it: the repository's filter with an opaque cursor instead of a position, and no team (the caller's). */
export type ListQuery = Omit<ObjectListFilter, 'team' | 'after'> & { cursor?: string };

/** Lifecycle commands and queries on existing objects. */
@Injectable()
export class ObjectsService {
  private readonly logger = new Logger(ObjectsService.name);

  constructor(
    private readonly objects: ObjectsRepository,
    private readonly states: ObjectStateStore,
    private readonly queue: ProcessingQueue,
    private readonly notifications: ObjectNotifications,
    private readonly storage: StorageService,
    private readonly artifacts: ArtifactsService,
    private readonly operations: OperationCatalog,
    private readonly teamQueue: TeamQueueCap,
  ) {}

  /** GET /api/v1/objects/{object}: the object `reference` names (see findByReference). */
  async getByReference(reference: string, caller: Principal): Promise<ObjectView> {
    return toObjectView(await this.findByReference(reference, caller));
  }

  /** The object with this id if the caller may see it: another team's object is as absent as a missing one (404, not 403). */
  async getVisible(id: string, caller: Principal): Promise<ProcessingObject> {
    const object = await this.objects.findById(id);
    if (!object || !isVisibleTo(object, caller)) {
      throw new ObjectNotFoundError(id);
    }
    return object;
  }

  /**
   * The object a path's `{object}` names, the same for every method: a UUID is looked up as an
   * id first, then as an identifier (an identifier may look like a UUID); anything else is an
   * identifier. Neither found (or found in another team) is 404.
   */
  async findByReference(reference: string, caller: Principal): Promise<ProcessingObject> {
    const byId = isUuid(reference) ? await this.objects.findById(reference) : null;
    if (byId && isVisibleTo(byId, caller)) {
      return byId;
    }
    if (!isValidIdentifier(reference)) {
      throw new ValidationError(
        `object must be a UUID or an identifier of ${IDENTIFIER_RULE}`,
        [{ field: 'object', message: 'invalid identifier' }],
        ErrorCode.InvalidIdentifier,
      );
    }
    const byIdentifier = await this.objects.findByIdentifier(reference);
    if (!byIdentifier || !isVisibleTo(byIdentifier, caller)) {
      throw new ObjectNotFoundError(isUuid(reference) ? reference : `with identifier '${reference}'`);
    }
    return byIdentifier;
  }

  async list(query: ListQuery, caller: Principal): Promise<{ items: ObjectView[]; next_cursor: string | null }> {
    this.checkOperationName(query.operation);
    const filter: ObjectListFilter = {
      team: visibleTeam(caller),
      state: query.state,
      identifierPrefix: query.identifierPrefix,
      operation: query.operation,
      createdAfter: query.createdAfter,
      createdBefore: query.createdBefore,
      errorCode: query.errorCode,
      errorFingerprint: query.errorFingerprint,
      failedAfter: query.failedAfter,
      failedBefore: query.failedBefore,
      after: query.cursor ? decodeCursor(query.cursor) : undefined,
      limit: query.limit + 1,
    };
    const page = await this.objects.list(filter);
    const items = page.slice(0, query.limit);
    const last = items[items.length - 1];
    return {
      items: items.map(({ object }) => toObjectView(object)),
      next_cursor: page.length > query.limit && last ? encodeCursor(last.position) : null,
    };
  }

  async artifactsOf(id: string, caller: Principal) {
    const object = await this.getVisible(id, caller);
    return { id: object.id, identifier: object.identifier, state: object.state, artifacts: await this.artifacts.links(object) };
  }

  /** Queued objects are cancelled at once; a processing one is stopped cooperatively by its worker. */
  async cancel(id: string, caller: Principal): Promise<ObjectView> {
    const object = await this.getVisible(id, caller);
    const event = await this.states.transition(id, 'cancelled', {
      currentOperation: null,
      markFinished: true,
      progressMessage: 'Cancelled',
    });
    await this.notifications.requestCancellation(id);
    if (object.taskId) {
      await this.queue.removeJob(object.taskId);
    }
    await this.notifications.publishRecorded(id, event);
    return toObjectView(await this.objects.getById(id));
  }

  /**
   * Re-queues a failed object. Completed operations are kept, unless `fromScratch` (every operation runs
   * again) or `from` (that operation and every later one in the plan run again; what they stored is removed
   * first, so their new results replace it and nothing of the earlier run stays).
   */
  async retry(id: string, { fromScratch, from }: RetryOptions, caller: Principal): Promise<ObjectView> {
    const object = await this.getVisible(id, caller);
    await this.teamQueue.check(object.team);
    const rerun = fromScratch ? 'all' : from === undefined ? undefined : this.operationsFrom(object, from);
    if (Array.isArray(rerun) && object.state === 'failed') {
      await this.deleteResultsOf(object, rerun);
    }
    const taskId = taskIdFor(id, object.attempts + 1);
    const event = await this.states.transition(
      id,
      'queued',
      {
        taskId,
        incrementAttempts: true,
        errorMessage: null,
        errorCode: null,
        currentOperation: null,
        clearFinished: true,
        rerunOperations: rerun,
        progressMessage: 'Queued for retry',
      },
      ['failed'],
    );
    await this.notifications.publishRecorded(id, event);
    try {
      await this.queue.enqueue({ id, taskId, priority: object.priority });
    } catch (error) {
      this.logger.warn(`Object ${id} is queued but its job could not be added; the reconciler will add it: ${(error as Error).message}`);
    }
    return toObjectView(await this.objects.getById(id));
  }

  /**
   * Re-queues up to `limit` of the caller's failed objects that match `filter`, newest first. An object
   * that stops being failed meanwhile (retried by someone else) is skipped, not an error.
   */
  async retryMatching(
    filter: SharedFilter,
    limit: number,
    fromScratch: boolean,
    caller: Principal,
  ): Promise<{ retried: number; ids: string[]; more: boolean }> {
    this.checkOperationName(filter.operation);
    const matching = await this.objects.list({ ...filter, team: visibleTeam(caller), state: 'failed', limit: limit + 1 });
    const chosen = matching.slice(0, limit).map(({ object }) => object.id);
    // Each retry checks its team's cap: a bulk retry stops taking objects of a full team (409s and 429s are skipped alike).

    const ids: string[] = [];
    for (let start = 0; start < chosen.length; start += BULK_RETRY_CONCURRENCY) {
      await Promise.all(
        chosen.slice(start, start + BULK_RETRY_CONCURRENCY).map(async (id) => {
          try {
            await this.retry(id, { fromScratch }, caller);
            ids.push(id);
          } catch (error) {
            if (!(error instanceof InvalidTransitionError || error instanceof ObjectNotFoundError || error instanceof TeamQueueFullError)) {
              throw error;
            }
          }
        }),
      );
    }
    return { retried: ids.length, ids, more: matching.length > limit };
  }

  private checkOperationName(operation: string | undefined): void {
    if (operation && !this.operations.names.includes(operation)) {
      throw new ValidationError(
        `Unknown operation '${operation}'; valid operations: ${this.operations.names.join(', ')}`,
        undefined,
        ErrorCode.UnknownOperation,
      );
    }
  }

  private operationsFrom(object: ProcessingObject, from: string): string[] {
    const start = object.plan.indexOf(from);
    if (start < 0) {
      throw new ValidationError(`from must be an operation of this object's plan: ${object.plan.join(', ')}`, [
        { field: 'from', message: 'not in the plan' },
      ]);
    }
    return object.plan.slice(start);
  }

  private async deleteResultsOf(object: ProcessingObject, operations: readonly string[]): Promise<void> {
    try {
      await this.storage.deleteKeys(operations.map((operation) => artifactKeys.result(object.identifier, operation)));
      for (const operation of operations) {
        await this.storage.deletePrefix(artifactKeys.files(object.identifier, operation));
      }
    } catch (error) {
      throw new DependencyUnavailableError('Object storage', error);
    }
  }

  /** DELETE /api/v1/objects/{object}: deletes the object `reference` names (see findByReference and delete). */
  async deleteByReference(reference: string, caller: Principal): Promise<void> {
    const object = await this.findByReference(reference, caller);
    await this.delete(object.id, caller);
  }

  /** Deletes a settled object with its job and every artifact; a processing object must be cancelled first. */
  async delete(id: string, caller: Principal): Promise<void> {
    const object = await this.getVisible(id, caller);
    if (object.state === 'processing') {
      throw new ConflictError(ErrorCode.ObjectBusy, `Object ${id} is processing; cancel it before deleting it`, {
        current_state: object.state,
      });
    }
    if (!isSettled(object.state)) {
      await this.cancel(id, caller);
    }
    if (object.taskId) {
      await this.queue.removeJob(object.taskId);
    }
    await this.deleteArtifacts(object);
    if (!(await this.objects.deleteById(id, ['completed', 'failed', 'cancelled']))) {
      const current = await this.objects.findById(id);
      if (current) {
        throw new ConflictError(ErrorCode.ObjectBusy, `Object ${id} changed to '${current.state}' while being deleted; try again`);
      }
    }
    await this.notifications.publishChange({ id, version: Number.MAX_SAFE_INTEGER });
  }

  private async deleteArtifacts(object: ProcessingObject): Promise<void> {
    try {
      await this.storage.deletePrefix(artifactKeys.objectPrefix(object.identifier));
    } catch (error) {
      throw new DependencyUnavailableError('Object storage', error);
    }
  }
}

/** A stream token sees the object it was issued for: whoever asked for it could see that object then (an admin, another team's). */
function isVisibleTo(object: ProcessingObject, caller: Principal): boolean {
  const team = visibleTeam(caller);
  return team === undefined || object.team === team || caller.streamOf === object.id;
}
