import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ProcessingQueue } from './processing-queue';

/**
 * Keeps the queue's global concurrency (MAX_PARALLEL_WORKERS across every worker process) set in
 * Redis. BullMQ stores it as a field of the queue's meta hash, which a Redis restart without
 * persistence or a failover to an empty replica loses, and nothing in BullMQ sets it again.
 * So it is set at start, again whenever the Redis connection is back, and checked every
 * GLOBAL_LIMIT_CHECK_INTERVAL_MS.
 *
 * While the field is missing each worker process may run up to its own concurrency (also
 * MAX_PARALLEL_WORKERS). That window is one round trip after a reconnect, or one check interval
 * if the field vanished without a disconnect; jobs lost with Redis's data come back only through
 * the reconciler, later than that. Jobs that were running when Redis lost its data are no longer
 * counted as active there until they finish, so during recovery up to 2 × MAX_PARALLEL_WORKERS
 * jobs can run at once, for as long as those operations take.
 */
@Injectable()
export class GlobalLimit implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(GlobalLimit.name);
  private started?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private stopListening?: () => void;
  private checking?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly queue: ProcessingQueue,
  ) {}

  /** Sets the limit and keeps it set; the worker awaits this before it takes jobs. Idempotent. */
  start(): Promise<void> {
    this.started ??= this.begin();
    return this.started;
  }

  onApplicationBootstrap(): Promise<void> {
    return this.start();
  }

  private async begin(): Promise<void> {
    await this.queue.setGlobalConcurrency(this.config.maxParallelWorkers);
    this.stopListening = this.queue.onConnectionReady(() => this.check('the Redis connection is back'));
    this.timer = setInterval(() => this.check('periodic check'), this.config.jobs.globalLimitCheckIntervalMs);
  }

  /** Sets the limit again when Redis no longer holds it; one check at a time. */
  private check(trigger: string): void {
    this.checking ??= this.restoreIfLost(trigger)
      .catch((error: Error) => this.logger.warn(`Could not check the global limit (${trigger}): ${error.message}`))
      .finally(() => (this.checking = undefined));
  }

  private async restoreIfLost(trigger: string): Promise<void> {
    const current = await this.queue.globalConcurrency();
    if (current !== this.config.maxParallelWorkers) {
      await this.queue.setGlobalConcurrency(this.config.maxParallelWorkers);
      this.logger.warn(`Global limit was ${current ?? 'missing'} in Redis (${trigger}); set to ${this.config.maxParallelWorkers} again`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.stopListening?.();
    await this.checking;
  }
}
