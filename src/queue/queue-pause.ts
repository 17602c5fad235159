import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Principal } from '../access/principal';
import { AppConfig } from '../config/app-config';
import { Sql } from '../database/sql';
import { OBJECTS_QUEUE } from './jobs';
import { ProcessingQueue } from './processing-queue';
import type { PauseMode } from './queue-pause.entity';

export interface PauseState {
  mode: PauseMode;
  reason: string;
  since: Date;
  byKeyId: string | null;
  byKeyName: string;
}

interface PauseRow {
  mode: PauseMode;
  reason: string;
  paused_at: Date;
  paused_by_key_id: string | null;
  paused_by_key_name: string;
}

/**
 * How long a reading of the pause answers stopsRunning(), which a worker asks at every operation boundary:
 * a stop reaches running objects at their next boundary at most this much later, and a busy worker reads
 * the pause ten times a second instead of once per operation.
 */
export const STOP_CHECK_MAX_AGE_MS = 100;

/**
 * The pause of the objects queue, shared by every team and process. PostgreSQL holds it (table
 * queue_pauses, keyed by REDIS_PREFIX and queue name) and is the source of truth; BullMQ's own pause
 * flag in Redis, which is what stops workers taking jobs, follows it. Redis may lose that flag (a
 * restart without persistence, a failover to an empty replica) or someone may flip it in the queue
 * dashboard: every process sets it back from PostgreSQL at start, when its Redis connection is back and
 * every GLOBAL_LIMIT_CHECK_INTERVAL_MS.
 */
@Injectable()
export class QueuePause implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueuePause.name);
  private readonly key: string;
  private timer?: NodeJS.Timeout;
  private stopListening?: () => void;
  private checking?: Promise<void>;
  private stopCheck?: { at: number; stops: Promise<boolean> };

  constructor(
    private readonly config: AppConfig,
    private readonly sql: Sql,
    private readonly queue: ProcessingQueue,
  ) {
    this.key = `${config.redis.prefix}:${OBJECTS_QUEUE}`;
  }

  async current(): Promise<PauseState | null> {
    const [row] = await this.sql.prepared<PauseRow>(
      'select mode, reason, paused_at, paused_by_key_id, paused_by_key_name from queue_pauses where queue = ?',
      [this.key],
    );
    return row
      ? {
          mode: row.mode,
          reason: row.reason,
          since: new Date(row.paused_at),
          byKeyId: row.paused_by_key_id,
          byKeyName: row.paused_by_key_name,
        }
      : null;
  }

  /**
   * True while the queue is paused in `stop` mode: a running object goes back to the queue before its next
   * operation. Read at most STOP_CHECK_MAX_AGE_MS ago; a failed reading is not kept.
   */
  stopsRunning(): Promise<boolean> {
    // A monotonic clock: a wall clock set back would keep one reading for as long.
    const now = performance.now();
    if (!this.stopCheck || now - this.stopCheck.at > STOP_CHECK_MAX_AGE_MS) {
      const stops = this.current().then((pause) => pause?.mode === 'stop');
      const check = { at: now, stops };
      this.stopCheck = check;
      stops.catch(() => {
        if (this.stopCheck === check) {
          this.stopCheck = undefined;
        }
      });
    }
    return this.stopCheck.stops;
  }

  /**
   * Pauses the queue, or changes the mode, reason and author of a pause in force (its `since` stays).
   * Recorded in PostgreSQL first: if Redis then fails, the pause still holds and reaches BullMQ with the next check.
   */
  async pause(mode: PauseMode, reason: string, by: Principal): Promise<PauseState> {
    await this.sql.query(
      `insert into queue_pauses (queue, mode, reason, paused_by_key_id, paused_by_key_name) values (?, ?, ?, ?, ?)
        on conflict (queue) do update set mode = excluded.mode, reason = excluded.reason,
          paused_by_key_id = excluded.paused_by_key_id, paused_by_key_name = excluded.paused_by_key_name`,
      [this.key, mode, reason, by.keyId, by.keyName],
    );
    this.stopCheck = undefined;
    await this.queue.pause();
    this.logger.warn(`Queue paused (${mode}) by ${by.keyName}: ${reason}`);
    return (await this.current())!;
  }

  async resume(by: Principal): Promise<void> {
    await this.sql.query('delete from queue_pauses where queue = ?', [this.key]);
    this.stopCheck = undefined;
    await this.queue.resume();
    this.logger.warn(`Queue resumed by ${by.keyName}`);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.restoreFlag('start').catch((error: Error) =>
      this.logger.warn(`Could not check the queue's pause flag at start: ${error.message}`),
    );
    this.stopListening = this.queue.onConnectionReady(() => this.check('the Redis connection is back'));
    this.timer = setInterval(() => this.check('periodic check'), this.config.jobs.globalLimitCheckIntervalMs);
  }

  private check(trigger: string): void {
    this.checking ??= this.restoreFlag(trigger)
      .catch((error: Error) => this.logger.warn(`Could not check the queue's pause flag (${trigger}): ${error.message}`))
      .finally(() => (this.checking = undefined));
  }

  /** Sets BullMQ's pause flag to what PostgreSQL says, when they differ. */
  private async restoreFlag(trigger: string): Promise<void> {
    const [pause, flagged] = await Promise.all([this.current(), this.queue.isPaused()]);
    if (pause && !flagged) {
      await this.queue.pause();
      this.logger.warn(
        `The queue is paused (${pause.mode}, since ${pause.since.toISOString()}) but Redis did not say so (${trigger}); paused it again`,
      );
    } else if (!pause && flagged) {
      await this.queue.resume();
      this.logger.warn(`Redis had the queue paused, which no pause recorded in PostgreSQL explains (${trigger}); resumed it`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.stopListening?.();
    await this.checking;
  }
}
