import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
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

  /**
   * When PostgreSQL, Redis or S3 does not answer (or the gate is closed already), pauses `taker` until
   * every one answers and returns true. Returns false when all three answer: then the error was not an
   * outage but the job's own (an S3 5xx for one key, say), and it spends an attempt like any other.
   */
  async closeIfUnreachable(taker: JobTaker, reason: string): Promise<boolean> {
    if (this.closed) {
      return true;
    }
    const down = await this.probes.unreachable();
    if (down.length === 0) {
      return false;
    }
    if (!this.closed) {
      this.logger.warn(`Not taking jobs until ${down.join(', ')} answer again: ${reason}`);
      this.closed = this.reopenWhenReachable(taker)
        .catch((error: unknown) => this.logger.error(`Could not resume taking jobs: ${(error as Error).message}`))
        .finally(() => (this.closed = undefined));
    }
    return true;
  }

  onApplicationShutdown(): void {
    this.stopping.abort();
  }

  private async reopenWhenReachable(taker: JobTaker): Promise<void> {
    await taker.pause(true);
    const since = Date.now();
    while (!this.stopping.signal.aborted) {
      if ((await this.probes.unreachable()).length === 0) {
        this.logger.log(`PostgreSQL, Redis and S3 answer again after ${Date.now() - since} ms: taking jobs`);
        await taker.resume();
        return;
      }
      await waitOrStop(this.config.dependencyRetryMs, this.stopping.signal);
    }
  }
}

/** Waits `ms`, or less when `signal` aborts (the process stops). */
function waitOrStop(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
