import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { DependencyProbes } from '../health/dependency-probes';

/** What the gate pauses and resumes: the BullMQ worker of this process. */
export interface JobTaker {
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): Promise<void>;
}

/**
 * Stops this process taking jobs while PostgreSQL, Redis or S3 cannot be reached: a job that met
 * an outage goes back to the queue without spending an attempt, and the worker resumes once every
 * dependency answers its readiness probe again, checked every DEPENDENCY_RETRY_MS.
 */
@Injectable()
export class DependencyGate implements OnApplicationShutdown {
  private readonly logger = new Logger(DependencyGate.name);
  private closed?: Promise<void>;
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AppConfig,
    private readonly probes: DependencyProbes,
  ) {}

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Pauses `taker` until every dependency answers; calls while it is already paused change nothing. */
  close(taker: JobTaker, reason: string): void {
    if (this.closed) {
      return;
    }
    this.logger.warn(`Not taking jobs until PostgreSQL, Redis and S3 answer again: ${reason}`);
    this.closed = this.reopenWhenReachable(taker)
      .catch((error: unknown) => this.logger.error(`Could not resume taking jobs: ${(error as Error).message}`))
      .finally(() => (this.closed = undefined));
  }

  onApplicationShutdown(): void {
    this.stopping.abort();
  }

  private async reopenWhenReachable(taker: JobTaker): Promise<void> {
    await taker.pause(true);
    const since = Date.now();
    try {
      let down = await this.probes.unreachable();
      while (down.length > 0) {
        await sleep(this.config.dependencyRetryMs, undefined, { signal: this.stopping.signal });
        down = await this.probes.unreachable();
      }
    } catch (error) {
      if (this.stopping.signal.aborted) {
        return;
      }
      throw error;
    }
    this.logger.log(`PostgreSQL, Redis and S3 answer again after ${Date.now() - since} ms: taking jobs`);
    await taker.resume();
  }
}
