import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { closeGracefully } from '../common/close-gracefully';
import { AppConfig } from '../config/app-config';

export const MAINTENANCE_QUEUE = 'maintenance';

/** The scheduler id (and job name) of the retention run. */
export const RETENTION_SCHEDULER = 'retention';

/**
 * The queue of the service's own periodic jobs (retention), apart from the objects queue: pausing
 * the objects queue does not stop them, and they never count against MAX_PARALLEL_WORKERS.
 */
@Injectable()
export class MaintenanceQueue implements OnApplicationShutdown {
  readonly queue: Queue;
  private readonly connection: Redis;

  constructor(config: AppConfig) {
    this.connection = new Redis(config.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(MAINTENANCE_QUEUE, {
      connection: this.connection,
      prefix: config.redis.prefix,
      defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    });
  }

  /** When the next retention run is due; null when none is scheduled (retention off, or Redis lost the scheduler until a worker sets it again). */
  async nextRetentionRun(): Promise<Date | null> {
    const scheduler = await this.queue.getJobScheduler(RETENTION_SCHEDULER);
    return scheduler?.next ? new Date(scheduler.next) : null;
  }

  /** Calls `listener` each time the queue's Redis connection is (re)established; returns the unsubscribe. */
  onConnectionReady(listener: () => void): () => void {
    this.connection.on('ready', listener);
    return () => this.connection.off('ready', listener);
  }

  async onApplicationShutdown(): Promise<void> {
    await closeGracefully(() => this.queue.close(), () => undefined);
    await closeGracefully(() => this.connection.quit(), () => this.connection.disconnect());
  }
}
