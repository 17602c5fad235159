import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MaintenanceQueue } from '../queue/maintenance-queue';

/**
 * Schedules the retention run with a BullMQ job scheduler (every RETENTION_INTERVAL_SECONDS; one
 * scheduler however many workers upsert it); RetentionProcessor runs it, one at a time, in worker
 * processes. With retention off the scheduler is removed. Redis may lose the scheduler with its data:
 * it is set again when the connection comes back.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionScheduler.name);
  private stopListening?: () => void;

  constructor(
    private readonly config: AppConfig,
    private readonly maintenance: MaintenanceQueue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.schedule();
    if (!this.config.retention) {
      return;
    }
    this.stopListening = this.maintenance.onConnectionReady(() => {
      this.schedule().catch((error: Error) => this.logger.warn(`Could not schedule retention again: ${error.message}`));
    });
  }

  private async schedule(): Promise<void> {
    const retention = this.config.retention;
    if (!retention) {
      await this.maintenance.unscheduleRetention();
      return;
    }
    await this.maintenance.scheduleRetention(retention.intervalSeconds * 1000);
  }

  beforeApplicationShutdown(): void {
    this.stopListening?.();
  }
}
