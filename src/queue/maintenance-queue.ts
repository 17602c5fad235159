import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { QueueConnection } from './queue-connection';

export const MAINTENANCE_QUEUE = 'maintenance';

/** The scheduler id (and job name) of the retention run. */
export const RETENTION_SCHEDULER = 'retention';

/**
 * The queue of the service's own periodic jobs (retention), apart from the objects queue: pausing
 * the objects queue does not stop them, and they never count against MAX_PARALLEL_WORKERS.
 */
@Injectable()
export class MaintenanceQueue {
  constructor(
    @InjectQueue(MAINTENANCE_QUEUE) private readonly queue: Queue,
    private readonly connection: QueueConnection,
  ) {}

  /** Runs retention every `everyMs`: one scheduler however many workers set it. */
  async scheduleRetention(everyMs: number): Promise<void> {
    await this.queue.upsertJobScheduler(
      RETENTION_SCHEDULER,
      { every: everyMs },
      { name: RETENTION_SCHEDULER, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
    );
  }

  async unscheduleRetention(): Promise<void> {
    await this.queue.removeJobScheduler(RETENTION_SCHEDULER);
  }

  /** When the next retention run is due; null when none is scheduled (retention off, or Redis lost the scheduler until a worker sets it again). */
  async nextRetentionRun(): Promise<Date | null> {
    const scheduler = await this.queue.getJobScheduler(RETENTION_SCHEDULER);
    return scheduler?.next ? new Date(scheduler.next) : null;
  }

  /** Calls `listener` each time the queue's Redis connection is (re)established; returns the unsubscribe. */
  onConnectionReady(listener: () => void): () => void {
    return this.connection.onReady(listener);
  }
}
