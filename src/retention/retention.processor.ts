import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, Type } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { MAINTENANCE_QUEUE } from '../queue/maintenance-queue';
import { workerConnection } from '../queue/queue-connection';
import { RetentionSweep } from './retention-sweep';

/**
 * Runs the retention jobs of the maintenance queue, one at a time. Like the objects' processor it is
 * declared per configuration (retentionProcessorFor), for its worker's connection; it takes jobs once
 * the application has started, and its worker is closed before the database is (a run finishes first).
 */
@Injectable()
export class RetentionProcessor extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionProcessor.name);

  constructor(private readonly sweep: RetentionSweep) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.run().catch((error: Error) => this.worker.emit('error', error));
  }

  /** Returns how many objects the run removed. */
  process(): Promise<number> {
    return this.sweep.run();
  }

  @OnWorkerEvent('failed')
  onFailed(_job: unknown, error: Error): void {
    this.logger.error(`Retention run failed: ${error.message}`);
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.error(`Retention worker error: ${error.message}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.close();
  }
}

/** The processor, its @Processor decorator holding this configuration's worker options. */
export function retentionProcessorFor(config: AppConfig): Type<RetentionProcessor> {
  @Processor(MAINTENANCE_QUEUE, { connection: workerConnection(config), autorun: false, concurrency: 1 })
  class ConfiguredRetentionProcessor extends RetentionProcessor {}
  return ConfiguredRetentionProcessor;
}
