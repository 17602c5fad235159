import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { Worker } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { MAINTENANCE_QUEUE, MaintenanceQueue } from '../queue/maintenance-queue';
import { RetentionSweep } from './retention-sweep';

/**
 * Schedules the retention run with a BullMQ job scheduler (every RETENTION_INTERVAL_SECONDS; one
 * scheduler however many workers upsert it) and runs it, one at a time, in worker processes. With
 * retention off the scheduler is removed. Redis may lose the scheduler with its data: it is set again
 * when the connection comes back.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionScheduler.name);
  private worker?: Worker<Record<string, never>, number>;
  private stopListening?: () => void;

  constructor(
    private readonly config: AppConfig,
    private readonly maintenance: MaintenanceQueue,
    private readonly sweep: RetentionSweep,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    if (!this.config.retention) {
      return;
    }
    this.stopListening = this.maintenance.onConnectionReady(() => {
      this.schedule().catch((error: Error) => this.logger.warn(`Could not schedule retention again: ${error.message}`));
    });
    this.worker = new Worker(MAINTENANCE_QUEUE, () => this.sweep.run(), {
      connection: { url: this.config.redis.url, maxRetriesPerRequest: null },
      prefix: this.config.redis.prefix,
      concurrency: 1,
    });
    this.worker.on('failed', (_job, error) => this.logger.error(`Retention run failed: ${error.message}`));
    this.worker.on('error', (error) => this.logger.error(`Retention worker error: ${error.message}`));
  }

  private async schedule(): Promise<void> {
    const retention = this.config.retention;
    if (!retention) {
      await this.maintenance.unscheduleRetention();
      return;
    }
    await this.maintenance.scheduleRetention(retention.intervalSeconds * 1000);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopListening?.();
    await this.worker?.close();
  }
}
