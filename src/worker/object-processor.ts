import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { InvalidTransitionError, ObjectNotFoundError } from '../common/domain-errors';
import { ObjectEvents } from '../events/object-events';
import { MetricsService, OperationOutcome } from '../metrics/metrics.service';
import { ArtifactsService } from '../objects/artifacts.service';
import { ObjectEventRecord, ObjectPatch, ObjectsRepository, RecordedEvent } from '../objects/objects.repository';
import type { ObjectState } from '../objects/object-state';
import type { OperationStatus, ProcessingObject } from '../objects/processing-object.entity';
import { OperationRegistry } from '../operations/operation-registry';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import { Cancellations, ObjectCancelledError, WorkerStoppingError } from './cancellations';
import { JobMemory, OperationRun } from './operation-run';

export type ProcessOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped';

export interface ProcessAttempt {
  objectId: string;
  taskId: string;
  /** True when the queue will not try this job again after a thrown error. */
  isFinalAttempt: boolean;
  attempts: number;
}

/**
 * Runs an object's plan. Completed operations are skipped, so a job delivered again after a
 * crash resumes where it stopped. Every write is conditional on the object still processing:
 * a cancel that lands first wins, and this run stops without overwriting it.
 */
@Injectable()
export class ObjectProcessor {
  private readonly logger = new Logger(ObjectProcessor.name);
  private draining = false;

  constructor(
    private readonly config: AppConfig,
    private readonly objects: ObjectsRepository,
    private readonly storage: StorageService,
    private readonly artifacts: ArtifactsService,
    private readonly registry: OperationRegistry,
    private readonly events: ObjectEvents,
    private readonly cancellations: Cancellations,
    private readonly metrics: MetricsService,
  ) {}

  async process(attempt: ProcessAttempt): Promise<ProcessOutcome> {
    const object = await this.start(attempt);
    if (!object) {
      return 'skipped';
    }
    const controller = this.cancellations.register(object.id);
    const memory = new JobMemory();
    try {
      for (const operation of object.plan) {
        if (this.draining) {
          throw new WorkerStoppingError();
        }
        if (!object.operationsStatus[operation]?.completed) {
          const outcome = await this.runOperation(object, operation, controller.signal, attempt, memory);
          if (outcome !== 'completed') {
            return outcome;
          }
        }
      }
      return await this.settle(object.id, 'completed', { progressMessage: 'Completed' });
    } catch (error) {
      if (controller.signal.reason instanceof WorkerStoppingError) {
        throw controller.signal.reason;
      }
      if (error instanceof ObjectCancelledError || controller.signal.aborted) {
        return 'cancelled';
      }
      throw error;
    } finally {
      this.cancellations.release(object.id, controller);
      await memory.release();
    }
  }

  /** Lets running operations finish, then hands each job back instead of starting its next operation. */
  drain(): void {
    this.draining = true;
  }

  /**
   * The object to work on, moved to processing; null when this job has nothing to do. A queued object
   * is moved and read in one statement; only otherwise is it read (a processing one is resumed).
   */
  private async start(attempt: ProcessAttempt): Promise<ProcessingObject | null> {
    const started = await this.objects.startProcessing(attempt.objectId, attempt.taskId, { markStarted: true, progressMessage: 'Processing' });
    if (started) {
      await this.publish(started.object.id, started.event);
      return started.object;
    }
    const object = await this.objects.findById(attempt.objectId);
    if (!object || object.taskId !== attempt.taskId) {
      return null;
    }
    return object.state === 'processing' ? object : null;
  }

  private async runOperation(object: ProcessingObject, operation: string, signal: AbortSignal, attempt: ProcessAttempt, memory: JobMemory): Promise<ProcessOutcome> {
    this.logger.debug(`${operation}: started (attempt ${attempt.attempts})`);
    const recordDuration = this.metrics.timeOperation(operation);
    const finished = (outcome: OperationOutcome) => {
      const seconds = recordDuration(outcome);
      this.logger.debug(`${operation}: ${outcome} in ${Math.round(seconds * 1000)} ms`);
    };
    try {
      const outcome = await this.executeOperation(object, operation, signal, attempt, memory);
      finished(outcome === 'completed' || outcome === 'failed' ? outcome : 'cancelled');
      return outcome;
    } catch (error) {
      finished(thrownOutcome(error, signal, attempt));
      throw error;
    }
  }

  private async executeOperation(
    object: ProcessingObject,
    operation: string,
    signal: AbortSignal,
    attempt: ProcessAttempt,
    memory: JobMemory,
  ): Promise<ProcessOutcome> {
    const previousAttempts = object.operationsStatus[operation]?.attempts ?? 0;
    const startedAt = new Date();
    const started = { completed: false, started_at: startedAt.toISOString(), attempts: previousAttempts + 1, error: null };
    await this.updateOrStop(object.id, { kind: 'operation_started', operation }, {
      currentOperation: operation,
      progressMessage: `Executing ${operation}`,
      operationStatus: { operation, status: started },
    });
    recordStatus(object, operation, started);
    if (this.config.jobs.simulatedOperationDelayMs > 0) {
      await sleep(this.config.jobs.simulatedOperationDelayMs, undefined, { signal });
    }
    const run = new OperationRun(object, operation, signal, {
      storage: this.storage,
      objects: this.objects,
      artifacts: this.artifacts,
      memory,
      publishChange: (event) => this.publish(object.id, event),
    });
    let outcome;
    try {
      outcome = await this.registry.get(operation).run(run);
    } catch (error) {
      if (!signal.aborted && !(error instanceof ObjectCancelledError)) {
        await this.recordTransientFailure(object.id, operation, error as Error, attempt);
      }
      throw error;
    }
    const finishedAt = new Date();
    const timing = { finished_at: finishedAt.toISOString(), duration_ms: finishedAt.getTime() - startedAt.getTime() };
    if (outcome.status === 'failed') {
      await this.settle(object.id, 'failed', {
        errorMessage: `${operation}: ${outcome.reason}`,
        errorCode: 'invalid_content',
        operationStatus: { operation, status: { ...timing, error: outcome.reason } },
        progressMessage: `Failed at ${operation}`,
      });
      return 'failed';
    }
    // Kept for the operations after this one.
    const result = await this.storage.putJson(artifactKeys.result(object.identifier, operation), outcome.result, signal);
    memory.keep(result.key, result.body, 'application/json');
    const finished = { ...timing, completed: true, s3_url: result.s3Url, error: null, files: run.writtenFiles.map((file) => file.s3Url) };
    await this.updateOrStop(object.id, { kind: 'operation_finished', operation }, {
      operationStatus: { operation, status: finished },
      completedOperation: { operation, s3Url: result.s3Url },
      progressMessage: `Finished ${operation}`,
    });
    recordStatus(object, operation, finished);
    return 'completed';
  }

  private async recordTransientFailure(objectId: string, operation: string, error: Error, attempt: ProcessAttempt): Promise<void> {
    this.logger.warn(`Object ${objectId}: ${operation} failed on attempt ${attempt.attempts}: ${error.message}`);
    const status = { operation, status: { error: error.message, finished_at: new Date().toISOString() } };
    try {
      if (attempt.isFinalAttempt) {
        await this.settle(objectId, 'failed', {
          errorMessage: `${operation} failed after ${attempt.attempts} attempt(s): ${error.message}`,
          errorCode: 'operation_failed',
          operationStatus: status,
          progressMessage: `Failed at ${operation}`,
        });
      } else {
        await this.updateOrStop(
          objectId,
          { kind: 'operation_failed', operation },
          { operationStatus: status, progressMessage: `Retrying ${operation} after: ${error.message}` },
        );
        this.metrics.countRetry(operation);
      }
    } catch (recordingError) {
      if (!(recordingError instanceof ObjectCancelledError)) {
        this.logger.error(`Object ${objectId}: could not record the failure of ${operation}: ${(recordingError as Error).message}`);
      }
    }
  }

  /** Marks a processing object failed when its job is given up by the queue (for example after stalling too often). */
  async abandon(objectId: string, taskId: string, reason: string): Promise<void> {
    const object = await this.objects.findById(objectId);
    if (object?.state === 'processing' && object.taskId === taskId) {
      await this.settle(objectId, 'failed', { errorMessage: reason, errorCode: 'operation_failed' }).catch(() => undefined);
    }
  }

  private async settle(objectId: string, state: Extract<ObjectState, 'completed' | 'failed'>, patch: ObjectPatch): Promise<ProcessOutcome> {
    try {
      const recorded = await this.objects.transition(objectId, state, { ...patch, currentOperation: null, markFinished: true }, ['processing']);
      if (state === 'failed') {
        this.metrics.countFailure(patch.errorCode ?? 'unknown');
      }
      await this.publish(objectId, recorded);
      return state;
    } catch (error) {
      if (error instanceof InvalidTransitionError || error instanceof ObjectNotFoundError) {
        return 'cancelled';
      }
      throw error;
    }
  }

  private async updateOrStop(objectId: string, event: RecordedEvent, patch: ObjectPatch): Promise<void> {
    const recorded = await this.objects.updateWhileProcessing(objectId, patch, event);
    if (recorded === null) {
      throw new ObjectCancelledError(objectId);
    }
    await this.publish(objectId, recorded);
  }

  private async publish(id: string, event: ObjectEventRecord): Promise<void> {
    await this.events.publishRecorded(id, event);
  }
}

/** Applies a status this job wrote to its record of the row, merged as the UPDATE merges it. */
function recordStatus(object: ProcessingObject, operation: string, status: Partial<OperationStatus>): void {
  object.operationsStatus = { ...object.operationsStatus, [operation]: { ...object.operationsStatus[operation], ...status } as OperationStatus };
}

/** How a run that threw ended, for the metrics: the queue runs it again unless this was the last attempt or it was cancelled. */
function thrownOutcome(error: unknown, signal: AbortSignal, attempt: ProcessAttempt): OperationOutcome {
  if (signal.reason instanceof WorkerStoppingError) {
    return 'retrying';
  }
  if (error instanceof ObjectCancelledError || signal.aborted) {
    return 'cancelled';
  }
  return attempt.isFinalAttempt ? 'failed' : 'retrying';
}
