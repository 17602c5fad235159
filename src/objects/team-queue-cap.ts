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

/** A team's waiting objects as last counted, with what this process queued since, and when it was counted. */
interface Counted {
  waiting: number;
  at: number;
}

/** A count of a team's waiting objects that PostgreSQL has not answered yet, and when it was asked. */
interface CountOnItsWay {
  startedAt: number;
  counted: Promise<Counted>;
}

/**
 * TEAM_MAX_QUEUED_OBJECTS: how many objects one team may have waiting (uploading or queued) at once, for
 * everything that queues one (submissions, batches, retries). It counts what waits when the request starts:
 * requests arriving together may pass it by their number.
 *
 * A submission does not count the team's waiting objects each time: a count is used for a second, plus what
 * this process queued since (objects that started meanwhile only make it high). Only a request the count
 * would refuse counts again first, so a refusal always rests on a fresh count (less what the requests that
 * shared it took). Requests that need a count while their team's is on its way share it: a count reads every
 * waiting row of the team, and one per request in flight (all of them, when a count expired under load)
 * scanned the backlog once per concurrent request.
 */
@Injectable()
export class TeamQueueCap {
  private readonly counted = new Map<string, Counted>();
  private readonly counting = new Map<string, CountOnItsWay>();

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
    const counted = this.trusted(team, cap, wanted) ?? (await this.count(team));
    return Math.max(0, cap - counted.waiting);
  }

  /** 429 team_queue_full unless the team may queue one more object; when it may, that one is counted as queued. */
  async check(team: string): Promise<void> {
    const cap = this.config.access.teamMaxQueuedObjects;
    if (cap <= 0) {
      return;
    }
    // Without a pause between finding room and taking it: only a fresh count can refuse.
    const counted = this.trusted(team, cap, 1) ?? (await this.count(team));
    // Read and added to in one step: requests that share a count each see those before them.
    if (cap - counted.waiting < 1) {
      throw this.full(team);
    }
    counted.waiting += 1;
  }

  /** The team's trusted count, while it is fresh and leaves room for `wanted`. */
  private trusted(team: string, cap: number, wanted: number): Counted | undefined {
    const trusted = this.counted.get(team);
    return trusted && Date.now() - trusted.at < COUNT_TRUSTED_MS && cap - trusted.waiting >= wanted ? trusted : undefined;
  }

  /**
   * The team's waiting objects counted afresh: by the count on its way when it started less than
   * COUNT_TRUSTED_MS ago, so one that hangs holds up only the requests of its own second. What queued() adds goes into it.
   */
  private count(team: string): Promise<Counted> {
    const current = this.counting.get(team);
    if (current && Date.now() - current.startedAt < COUNT_TRUSTED_MS) {
      return current.counted;
    }
    const counting: CountOnItsWay = {
      startedAt: Date.now(),
      counted: this.objects
        .countWaiting(team)
        // A count that a later one replaced (it hung past its second) tells the requests that shared it, and is not kept.
        .then((waiting) => (this.counting.get(team) === counting ? this.remember(team, waiting) : { waiting, at: Date.now() }))
        .finally(() => {
          if (this.counting.get(team) === counting) {
            this.counting.delete(team);
          }
        }),
    };
    this.counting.set(team, counting);
    return counting.counted;
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

  private remember(team: string, waiting: number): Counted {
    const now = Date.now();
    if (this.counted.size >= COUNTED_TEAMS_KEPT) {
      for (const [counted, { at }] of this.counted) {
        if (now - at >= COUNT_TRUSTED_MS) {
          this.counted.delete(counted);
        }
      }
    }
    const counted: Counted = { waiting, at: now };
    this.counted.set(team, counted);
    return counted;
  }
}
