import { Injectable } from '@nestjs/common';
import { TeamQueueFullError } from '../access/access-errors';
import { AppConfig } from '../config/app-config';
import { ObjectsRepository } from './objects.repository';

/** When a team whose queue is full may try again: objects start within seconds while workers keep up. */
const RETRY_AFTER_SECONDS = 5;

/** How long a team's count of waiting objects is used, adjusted by what this process queues meanwhile, before it is counted again. */
const COUNT_TRUSTED_MS = 1000;

/** Past this many teams counted, counts no longer trusted are dropped. */
const COUNTED_TEAMS_KEPT = 10_000;

/**
 * TEAM_MAX_QUEUED_OBJECTS: how many objects one team may have waiting (uploading or queued) at once, for
 * everything that queues one (submissions, batches, retries). It counts what waits when the request starts:
 * requests arriving together may pass it by their number.
 *
 * A submission does not count the team's waiting objects each time: a count is used for a second, plus what
 * this process queued since (objects that started meanwhile only make it high). Only a request the count
 * would refuse counts again first, so a refusal always rests on a fresh count.
 */
@Injectable()
export class TeamQueueCap {
  private readonly counted = new Map<string, { waiting: number; at: number }>();

  constructor(
    private readonly objects: ObjectsRepository,
    private readonly config: AppConfig,
  ) {}

  /** How many more objects the team may queue now, up to `wanted` known without counting; unbounded without a cap. */
  async room(team: string, wanted = 1): Promise<number> {
    const cap = this.config.access.teamMaxQueuedObjects;
    if (cap <= 0) {
      return Number.POSITIVE_INFINITY;
    }
    const trusted = this.counted.get(team);
    if (trusted && Date.now() - trusted.at < COUNT_TRUSTED_MS && cap - trusted.waiting >= wanted) {
      return cap - trusted.waiting;
    }
    const waiting = await this.objects.countWaiting(team);
    this.remember(team, waiting);
    return Math.max(0, cap - waiting);
  }

  /** 429 team_queue_full unless the team may queue one more object; when it may, that one is counted as queued. */
  async check(team: string): Promise<void> {
    if ((await this.room(team)) < 1) {
      throw this.full(team);
    }
    this.queued(team, 1);
  }

  /** Counts `count` objects this process has just queued for the team. */
  queued(team: string, count: number): void {
    const trusted = this.counted.get(team);
    if (trusted) {
      trusted.waiting += count;
    }
  }

  full(team: string): TeamQueueFullError {
    return new TeamQueueFullError(team, this.config.access.teamMaxQueuedObjects, RETRY_AFTER_SECONDS);
  }

  private remember(team: string, waiting: number): void {
    const now = Date.now();
    if (this.counted.size >= COUNTED_TEAMS_KEPT) {
      for (const [counted, { at }] of this.counted) {
        if (now - at >= COUNT_TRUSTED_MS) {
          this.counted.delete(counted);
        }
      }
    }
    this.counted.set(team, { waiting, at: now });
  }
}
