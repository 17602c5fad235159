import { Injectable } from '@nestjs/common';
import { TeamQueueFullError } from '../access/access-errors';
import { AppConfig } from '../config/app-config';
import { ObjectsRepository } from './objects.repository';

/** When a team whose queue is full may try again: objects start within seconds while workers keep up. */
const RETRY_AFTER_SECONDS = 5;

/**
 * TEAM_MAX_QUEUED_OBJECTS: how many objects one team may have waiting (uploading or queued) at once, for
 * everything that queues one (submissions, batches, retries). It counts what waits when the request starts:
 * requests arriving together may pass it by their number.
 */
@Injectable()
export class TeamQueueCap {
  constructor(
    private readonly objects: ObjectsRepository,
    private readonly config: AppConfig,
  ) {}

  /** How many more objects the team may queue now; unbounded without a cap. */
  async room(team: string): Promise<number> {
    const cap = this.config.access.teamMaxQueuedObjects;
    return cap > 0 ? Math.max(0, cap - (await this.objects.countWaiting(team))) : Number.POSITIVE_INFINITY;
  }

  /** 429 team_queue_full unless the team may queue one more object. */
  async check(team: string): Promise<void> {
    if ((await this.room(team)) < 1) {
      throw this.full(team);
    }
  }

  full(team: string): TeamQueueFullError {
    return new TeamQueueFullError(team, this.config.access.teamMaxQueuedObjects, RETRY_AFTER_SECONDS);
  }
}
