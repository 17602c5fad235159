import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Span } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { InvalidTransitionError, ObjectNotFoundError } from '../common/domain-errors';
import { ObjectNotifications } from '../notifications/object-notifications';
import { MetricsService, OperationOutcome } from '../metrics/metrics.service';
import { QueuePause } from '../queue/queue-pause';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import type { ObjectPatch, ObjectToRun, RecordedChange } from '../objects/object-records';
import { ObjectStateStore, type StartedObject } from '../objects/object-state-store';
import { ObjectsRepository } from '../objects/objects.repository';
import type { ObjectState } from '../objects/object-state';
import type { OperationStatus } from '../objects/processing-object.entity';
import { budgetFor, OperationBudget } from '../operations/operation-budget';
import { readOptions } from '../operations/operation-options';
import { artifactKeys } from '../storage/artifact-keys';
import { StorageService } from '../storage/storage.service';
import { annotateSpan, currentTraceCarrier, inSpan } from '../tracing/trace-context';
import { Cancellations, ObjectCancelledError, WorkerStoppingError } from './cancellations';
import { JobCarryHolder, removeAbandonedJobDirectories } from './job-memory';
import type { ObjectForRun } from './operation-run';
import { OperationProcesses } from './operation-processes';
import { OperationDependencyError } from './operation-task';

/** How long a killed operation process may still act: requests it had already sent landing, a file it was writing. */
export const IN_FLIGHT_GRACE_MS = 1000;

export type ProcessOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped';

interface OperationRunSettings {
  signal: AbortSignal;
  attempt: ProcessAttempt;
  carry: JobCarryHolder;
  budget: OperationBudget;
  /** The operation to start once this one completes; null after the last one, which completes the object. */
  next: string | null;
}

/**
 * How one operation run ended; `stopped`: it completed, and the object was handed back instead of starting the
 * next one (the worker is stopping, or the queue is paused in stop mode).
 */
type OperationEnd = Exclude<ProcessOutcome, 'skipped'> | 'stopped';

const COMPLETED: ObjectPatch = { progressMessage: 'Completed' };

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
export class PlanRunner implements OnModuleInit {
  private readonly logger = new Logger(PlanRunner.name);
  private draining = false;

  constructor(
    private readonly config: AppConfig,
    private readonly objects: ObjectsRepository,
    private readonly states: ObjectStateStore,
    private readonly operationProcesses: OperationProcesses,
    private readonly storage: StorageService,
    private readonly notifications: ObjectNotifications,
    private readonly cancellations: Cancellations,
    private readonly metrics: MetricsService,
    private readonly pause: QueuePause,
  ) {}

  /** Removes what jobs of worker processes that were killed left in the temporary directory. */
  async onModuleInit(): Promise<void> {
    const removed = await removeAbandonedJobDirectories();
    if (removed > 0) {
      this.logger.log(`Removed ${removed} job director${removed === 1 ? 'y' : 'ies'} left by worker processes that were stopped mid-job`);
    }
  }

  async process(attempt: ProcessAttempt): Promise<ProcessOutcome> {
    // Registered before the start is recorded: a cancel that lands just after it (its first operation's start
    // included, so no later write would find it) still stops the run before that operation does anything.
    const controller = this.cancellations.register(attempt.objectId);
    try {
      const started = await this.start(attempt);
      return started ? await this.runStarted(started, attempt, controller) : 'skipped';
    } finally {
      this.cancellations.release(attempt.objectId, controller);
    }
  }

  private async runStarted(
    { object, startedOperation }: RunStart,
    attempt: ProcessAttempt,
    controller: AbortController,
  ): Promise<ProcessOutcome> {
    const carry = JobCarryHolder.create();
    const budget = budgetFor(readOptions(object.options).budget, this.config);
    let outcome: ProcessOutcome | undefined;
    try {
      outcome = await this.runPlan(object, startedOperation, attempt, controller, carry, budget);
      return outcome;
    } finally {
      await this.releaseCarry(carry, outcome === 'completed');
    }
  }

  /** Runs what remains of the plan; `startedOperation` is the first of it when its start is recorded already. */
  private async runPlan(
    object: ObjectToRun,
    startedOperation: string | null,
    attempt: ProcessAttempt,
    controller: AbortController,
    carry: JobCarryHolder,
    budget: OperationBudget,
  ): Promise<ProcessOutcome> {
    try {
      const remaining = object.plan.filter((operation) => !object.operationsStatus[operation]?.completed);
      const [first] = remaining;
      if (first === undefined) {
        return await this.settle(object.id, 'completed', COMPLETED);
      }
      if (first !== startedOperation) {
        await this.updateOrStop(object.id, this.recordStart(object, first));
      }
      let end: OperationEnd = 'completed';
      for (const [index, operation] of remaining.entries()) {
        // Each operation records its end with the start of the next one, or with the object's completion after the last.
        end = await this.runOperation(object, operation, {
          signal: controller.signal,
          attempt,
          carry,
          budget,
          next: remaining[index + 1] ?? null,
        });
        if (end !== 'completed') {
          break;
        }
      }
      if (end === 'stopped') {
        throw new WorkerStoppingError();
      }
      return end;
    } catch (error) {
      if (controller.signal.reason instanceof WorkerStoppingError) {
        throw controller.signal.reason;
      }
      if (error instanceof ObjectCancelledError || controller.signal.aborted) {
        return 'cancelled';
      }
      throw error;
    }
  }

  /**
   * Removes the job's directory. After a run that did not complete, an operation process it killed may still be
   * ending (workerpool ends it after answering the cancel) and make the directory again: it goes once more when
   * that process is surely gone.
   */
  private async releaseCarry(carry: JobCarryHolder, completed: boolean): Promise<void> {
    await carry.release();
    if (!completed) {
      setTimeout(() => {
        carry
          .release()
          .catch((error: unknown) => this.logger.warn(`Could not remove ${carry.carry.directory}: ${(error as Error).message}`));
      }, IN_FLIGHT_GRACE_MS).unref();
    }
  }

  /** Lets running operations finish, then hands each job back instead of starting its next operation. */
  drain(): void {
    this.draining = true;
  }

  /**
   * The object to work on, moved to processing, with the operation whose start is recorded already; null when this
   * job has nothing to do. A queued object is moved, its first operation started and the object read in one
   * statement; only otherwise is it read (a processing one is resumed, its next operation not started yet). A job
   * taken while the worker is stopping is handed back before anything is recorded.
   */
  private async start(attempt: ProcessAttempt): Promise<RunStart | null> {
    if (await this.stopping()) {
      throw new WorkerStoppingError();
    }
    const started = await this.states.startProcessing(
      attempt.objectId,
      attempt.taskId,
      { markStarted: true, progressMessage: 'Processing' },
      new Date(),
    );
    if (started) {
      await this.publish(started.object.id, ...started.events);
      return started;
    }
    const object = await this.objects.findForRun(attempt.objectId);
    if (!object || object.taskId !== attempt.taskId) {
      return null;
    }
    return object.state === 'processing' ? { object, startedOperation: null } : null;
  }

  /** One run of an operation, in a span of its own: its PostgreSQL writes and its process's S3 calls are the span's children. */
  private async runOperation(object: ObjectToRun, operation: string, run: OperationRunSettings): Promise<OperationEnd> {
    const attributes = {
      'operation.name': operation,
      // Its start is recorded already.
      'operation.attempt': object.operationsStatus[operation]?.attempts ?? 1,
      'object.id': object.id,
      'operation.bytes_in': object.source?.size ?? 0,
    };
    return inSpan(`operation ${operation}`, { attributes }, (span) => this.timedOperation(object, operation, run, span));
  }

  private async timedOperation(object: ObjectToRun, operation: string, run: OperationRunSettings, span: Span): Promise<OperationEnd> {
    this.logger.debug(`${operation}: started (attempt ${run.attempt.attempts})`);
    const recordDuration = this.metrics.timeOperation(operation);
    const finished = (outcome: OperationOutcome) => {
      const seconds = recordDuration(outcome);
      span.setAttribute('operation.outcome', outcome);
      this.logger.debug(`${operation}: ${outcome} in ${Math.round(seconds * 1000)} ms`);
    };
    try {
      const outcome = await this.executeOperation(object, operation, run);
      finished(outcome === 'stopped' ? 'completed' : outcome);
      return outcome;
    } catch (error) {
      finished(thrownOutcome(error, run.signal, run.attempt));
      throw error;
    }
  }

  private async executeOperation(
    object: ObjectToRun,
    operation: string,
    { signal, attempt, carry, budget, next }: OperationRunSettings,
  ): Promise<OperationEnd> {
    const startedAt = new Date(object.operationsStatus[operation]?.started_at ?? Date.now());
    if (this.config.jobs.simulatedOperationDelayMs > 0) {
      await sleep(this.config.jobs.simulatedOperationDelayMs, undefined, { signal });
    }
    let ran;
    try {
      ran = await this.operationProcesses.run(
        { operation, object: objectForRun(object), carry: carry.carry, trace: currentTraceCarrier() },
        budget,
        signal,
        (message) => this.recordProgress(object.id, operation, message),
      );
    } catch (error) {
      if (signal.reason instanceof ObjectCancelledError) {
        // Requests the killed process had already sent may still land: what they store goes once they have.
        await sleep(IN_FLIGHT_GRACE_MS);
        await this.removeUnrecorded(object, operation);
      } else if (!signal.aborted) {
        await this.recordTransientFailure(object.id, operation, error as Error, attempt);
      }
      throw error;
    }
    carry.merge(ran.carry);
    const { outcome } = ran;
    const finishedAt = new Date();
    const timing = { finished_at: finishedAt.toISOString(), duration_ms: finishedAt.getTime() - startedAt.getTime() };
    switch (outcome.status) {
      case 'failed':
        await this.settle(object.id, 'failed', {
          errorMessage: `${operation}: ${outcome.reason}`,
          errorCode: outcome.code,
          operationStatus: { operation, status: { ...timing, error: outcome.reason } },
          progressMessage: `Failed at ${operation}`,
        });
        return 'failed';
      case 'error':
        if (outcome.cause === 'dependency') {
          throw new OperationDependencyError(`${operation}: ${outcome.message}`);
        }
        await this.recordTransientFailure(object.id, operation, new Error(outcome.message), attempt);
        throw new Error(`${operation}: ${outcome.message}`);
      case 'completed': {
        const files = outcome.files.map((file) => file.s3Url);
        annotateSpan({ 'operation.bytes_out': outcome.files.reduce((total, file) => total + file.size, outcome.result.size) });
        const finishedStatus = { ...timing, completed: true, s3_url: outcome.result.s3Url, error: null, files };
        const finishing: RecordedChange = {
          event: { kind: 'operation_finished', operation },
          patch: {
            operationStatus: { operation, status: finishedStatus },
            completedOperation: { operation, s3Url: outcome.result.s3Url },
            progressMessage: `Finished ${operation}`,
          },
        };
        try {
          const end = await this.recordEnd(object, finishing, next);
          recordStatus(object, operation, finishedStatus);
          return end;
        } catch (error) {
          if (error instanceof ObjectCancelledError) {
            await this.removeUnrecorded(object, operation);
          }
          throw error;
        }
      }
    }
  }

  /**
   * Records a completed operation together with what follows it, in one statement: the start of `next`, the
   * object's completion after the last operation, or nothing when the object is handed back at this boundary.
   */
  private async recordEnd(object: ObjectToRun, finishing: RecordedChange, next: string | null): Promise<OperationEnd> {
    if (next === null) {
      const completing = {
        event: { kind: 'state_changed' as const, operation: null },
        patch: { ...COMPLETED, ...SETTLING },
        to: 'completed' as const,
      };
      await this.updateTwiceOrStop(object.id, finishing, completing);
      return 'completed';
    }
    if (await this.stopping()) {
      await this.updateOrStop(object.id, finishing);
      return 'stopped';
    }
    await this.updateTwiceOrStop(object.id, finishing, this.recordStart(object, next));
    return 'completed';
  }

  /**
   * The start of `operation` as a change, applied to this job's record of the object (it is recorded in the row with the change).
   * ObjectStateStore.startProcessing makes the same change in SQL for the first operation of a queued object.
   */
  private recordStart(object: ObjectToRun, operation: string): RecordedChange {
    const previousAttempts = object.operationsStatus[operation]?.attempts ?? 0;
    const started = { completed: false, started_at: new Date().toISOString(), attempts: previousAttempts + 1, error: null };
    recordStatus(object, operation, started);
    return {
      event: { kind: 'operation_started', operation },
      patch: { currentOperation: operation, progressMessage: `Executing ${operation}`, operationStatus: { operation, status: started } },
    };
  }

  /** True when the object should be handed back at this operation boundary: the worker is stopping, or a queue paused in stop mode hands it back as a stopping worker does. */
  private async stopping(): Promise<boolean> {
    return this.draining || (await this.pause.stopsRunning());
  }

  /**
   * An operation cancelled while it ran, or that finished after its object was cancelled, is not
   * recorded: whatever it stored goes too, so that only recorded artifacts stay. A failure to remove
   * them is logged, not retried.
   */
  private async removeUnrecorded(object: ObjectToRun, operation: string): Promise<void> {
    try {
      await this.storage.deleteKeys([artifactKeys.result(object.identifier, operation)]);
      await this.storage.deletePrefix(artifactKeys.files(object.identifier, operation));
    } catch (error) {
      this.logger.warn(`Object ${object.id}: ${operation} was cancelled; what it stored could not be removed: ${(error as Error).message}`);
    }
  }

  /** Records and publishes a progress message of a running operation; one that finds the object no longer processing stops the run. */
  private async recordProgress(objectId: string, operation: string, message: string): Promise<void> {
    const recorded = await this.states.updateWhileProcessing(
      objectId,
      { progressMessage: message },
      { kind: 'operation_progress', operation },
    );
    if (recorded === null) {
      this.cancellations.abort(objectId);
      return;
    }
    await this.publish(objectId, recorded);
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
        await this.updateOrStop(objectId, {
          event: { kind: 'operation_failed', operation },
          patch: { operationStatus: status, progressMessage: `Retrying ${operation} after: ${error.message}` },
        });
        this.metrics.countRetry(operation);
      }
    } catch (recordingError) {
      if (!(recordingError instanceof ObjectCancelledError)) {
        this.logger.error(`Object ${objectId}: could not record the failure of ${operation}: ${(recordingError as Error).message}`);
      }
    }
  }

  /**
   * Marks a processing object failed when its job is given up by the queue (for example after
   * stalling too often). Never rejects: when PostgreSQL cannot be reached, the reconciler settles
   * the object later.
   */
  async abandon(objectId: string, taskId: string, reason: string): Promise<void> {
    try {
      const object = await this.objects.findById(objectId);
      if (object?.state === 'processing' && object.taskId === taskId) {
        await this.settle(objectId, 'failed', { errorMessage: reason, errorCode: 'operation_failed' });
      }
    } catch (error) {
      this.logger.error(`Object ${objectId}: could not mark it failed after its job was given up (${reason}): ${(error as Error).message}`);
    }
  }

  private async settle(objectId: string, state: Extract<ObjectState, 'completed' | 'failed'>, patch: ObjectPatch): Promise<ProcessOutcome> {
    try {
      const recorded = await this.states.transition(objectId, state, { ...patch, ...SETTLING }, ['processing']);
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

  private async updateOrStop(objectId: string, { event, patch }: RecordedChange): Promise<void> {
    const recorded = await this.states.updateWhileProcessing(objectId, patch, event);
    if (recorded === null) {
      throw new ObjectCancelledError(objectId);
    }
    await this.notifications.publishRecorded(objectId, recorded);
  }

  private async updateTwiceOrStop(objectId: string, first: RecordedChange, second: RecordedChange & { to?: 'completed' }): Promise<void> {
    const recorded = await this.states.updateTwiceWhileProcessing(objectId, first, second);
    if (recorded === null) {
      throw new ObjectCancelledError(objectId);
    }
    await this.notifications.publishRecorded(objectId, ...recorded);
  }

  private async publish(id: string, ...events: ObjectEventRecord[]): Promise<void> {
    await this.notifications.publishRecorded(id, ...events);
  }
}

/** The object a job runs, and the operation whose start is recorded already (the first left, when the job's start recorded it). */
type RunStart = Pick<StartedObject, 'object' | 'startedOperation'>;

/** What settling an object changes besides its state and message. */
const SETTLING: ObjectPatch = { currentOperation: null, markFinished: true };

function objectForRun(object: ObjectToRun): ObjectForRun {
  const { id, identifier, metadata, options, createdAt, plan, operationsStatus } = object;
  return {
    id,
    identifier,
    metadata,
    options,
    source: object.source ?? null,
    sourceInline: object.sourceInline ?? null,
    createdAt,
    plan,
    operationsStatus,
  };
}

/** Applies a status this job wrote to its record of the row, merged as the UPDATE merges it. */
function recordStatus(object: ObjectToRun, operation: string, status: Partial<OperationStatus>): void {
  object.operationsStatus = {
    ...object.operationsStatus,
    [operation]: { ...object.operationsStatus[operation], ...status } as OperationStatus,
  };
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
