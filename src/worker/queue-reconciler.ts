import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { ObjectNotifications } from '../notifications/object-notifications';
import type { SweepPosition, UnsettledObject, UnsettledState } from '../objects/object-records';
import { ObjectStateStore } from '../objects/object-state-store';
import { ObjectsRepository } from '../objects/objects.repository';
import { taskIdFor } from '../queue/jobs';
import { ProcessingQueue } from '../queue/processing-queue';
import { Recovery, recoveryFor } from './job-recovery';

/** Objects looked at per state and tick: each tick costs two index range reads of this size and one pipelined Redis round trip. */
export const RECONCILE_BATCH = 200;
const SWEPT_STATES: readonly UnsettledState[] = ['queued', 'processing'];
/** An object changed this recently may be between its commit and its enqueue: it is left for a later sweep. */
const MIN_SETTLE_MS = 5000;

/**
 * Finds queued and processing objects whose job is missing or dead and recovers them (see
 * job-recovery.ts for the rule), so no object waits forever. Each tick continues a keyset sweep
 * over each state where the last one stopped, so a stuck object is reached within
 * ceil(unsettled objects / RECONCILE_BATCH) ticks, and no tick reads more than one batch per state.
 */
@Injectable()
export class QueueReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueReconciler.name);
  private readonly positions = new Map<UnsettledState, SweepPosition>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly objects: ObjectsRepository,
    private readonly states: ObjectStateStore,
    private readonly queue: ProcessingQueue,
    private readonly notifications: ObjectNotifications,
    private readonly pino: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.reconcile()
        .catch((error: Error) => this.logger.warn(`Reconciliation skipped: ${error.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.jobs.reconcileIntervalMs);
  }

  /** One tick: the next batch of each state's sweep. */
  async reconcile(): Promise<void> {
    const untouchedSince = Date.now() - Math.max(this.config.jobs.reconcileIntervalMs, MIN_SETTLE_MS);
    for (const state of SWEPT_STATES) {
      const batch = await this.objects.findUnsettledAfter(state, this.positions.get(state) ?? null, RECONCILE_BATCH);
      this.advance(state, batch);
      const idle = batch.filter((object) => object.taskId !== null && object.updatedAt.getTime() < untouchedSince);
      const fates = await Promise.all(idle.map(async (object) => [object, await this.queue.jobFate(object.taskId!)] as const));
      for (const [object, fate] of fates) {
        await this.recover(object, object.taskId!, recoveryFor(state, fate));
      }
    }
  }

  /** A short batch is the end of the sweep: the next tick starts from the oldest object again. */
  private advance(state: UnsettledState, batch: UnsettledObject[]): void {
    const last = batch[batch.length - 1];
    if (batch.length < RECONCILE_BATCH || !last) {
      this.positions.delete(state);
    } else {
      this.positions.set(state, last.position);
    }
  }

  private async recover(object: UnsettledObject, taskId: string, recovery: Recovery): Promise<void> {
    switch (recovery.action) {
      case 'none':
        return;
      case 'add':
        await this.enqueue(object, taskId);
        this.warn(object, taskId, `Object ${object.id} had no job in the queue; re-added job ${taskId}`);
        return;
      case 'requeue':
        return this.requeue(object, taskId, recovery.reason);
      case 'fail':
        return this.fail(object, taskId, recovery.reason);
    }
  }

  private async requeue(object: UnsettledObject, deadTaskId: string, reason: string): Promise<void> {
    const taskId = taskIdFor(object.id, object.attempts + 1);
    const event = await this.states.updateWhileTask(
      { id: object.id, taskId: deadTaskId, states: [object.state] },
      { taskId, incrementAttempts: true, progressMessage: 'Queued again after its job was lost' },
    );
    if (!event) {
      return;
    }
    await this.notifications.publishRecorded(object.id, event);
    await this.enqueue(object, taskId);
    this.warn(object, taskId, `Object ${object.id}: ${reason}; queued again as job ${taskId}`);
  }

  private async fail(object: UnsettledObject, deadTaskId: string, reason: string): Promise<void> {
    const event = await this.states.updateWhileTask(
      { id: object.id, taskId: deadTaskId, states: ['processing'], to: 'failed' },
      { errorMessage: reason, errorCode: 'operation_failed', currentOperation: null, markFinished: true, progressMessage: 'Failed' },
    );
    if (event) {
      await this.notifications.publishRecorded(object.id, event);
      this.warn(object, deadTaskId, `Object ${object.id}: ${reason}`);
    }
  }

  private async enqueue(object: UnsettledObject, taskId: string): Promise<void> {
    await this.queue.enqueue({ id: object.id, taskId, priority: object.priority });
  }

  private warn(object: UnsettledObject, jobId: string, message: string): void {
    this.pino.runInContext(() => this.logger.warn(message), { bindings: { objectId: object.id, jobId } });
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
