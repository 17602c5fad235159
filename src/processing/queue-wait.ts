import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { WaitingResponse, WaitReason } from '../objects/dto/object.responses';
import type { RecentDurations } from '../objects/object-records';
import { ObjectsRepository } from '../objects/objects.repository';
import type { ProcessingObject } from '../objects/processing-object.entity';
import { ProcessingQueue, QueuePlace } from '../queue/processing-queue';
import { QueuePause } from '../queue/queue-pause';

/** Recently completed objects whose operation durations the estimates average. */
export const ESTIMATE_SAMPLE = 100;

/**
 * Why a queued object waits: its place in the queue, what holds it and rough estimates. Costs a few
 * Redis commands, one PostgreSQL primary-key read and one bounded read of recent durations, so it is
 * computed for one object on request (GET /api/v1/progress/{id}), never for lists or streams.
 */
@Injectable()
export class QueueWait {
  constructor(
    private readonly config: AppConfig,
    private readonly queue: ProcessingQueue,
    private readonly queuePause: QueuePause,
    private readonly objects: ObjectsRepository,
  ) {}

  async explain(object: Pick<ProcessingObject, 'taskId' | 'priority' | 'plan' | 'operationsStatus'>): Promise<WaitingResponse> {
    const [place, pause, workers, durations] = await Promise.all([
      object.taskId ? this.queue.placeOf(object.taskId, object.priority) : null,
      this.queuePause.current(),
      this.queue.workerCount(),
      this.objects.recentOperationDurations(ESTIMATE_SAMPLE),
    ]);
    const heldBy = reasons(place, pause !== null, workers, this.config.maxParallelWorkers);
    const runMs = remainingRunMs(object, durations);
    const startMs =
      pause === null && workers > 0 && place?.position !== undefined && place.position !== null
        ? startInMs(place.position - 1, place.active, this.config.maxParallelWorkers, durations)
        : null;
    return {
      position: place?.position ?? null,
      higher_priority_ahead: place?.higherPriorityAhead ?? null,
      held_by: heldBy,
      estimated_start_seconds: startMs === null ? null : seconds(startMs),
      estimated_run_seconds: runMs === null ? null : seconds(runMs),
      estimate_sample_size: durations.objects,
    };
  }
}

function reasons(place: QueuePlace | null, paused: boolean, workers: number, maxWorkers: number): WaitReason[] {
  const held: WaitReason[] = [];
  if (paused) {
    held.push('paused');
  }
  if (workers === 0) {
    held.push('no_workers');
  }
  if (!place || place.state === 'unknown') {
    held.push('not_in_queue');
    return held;
  }
  if (place.active >= maxWorkers) {
    held.push('global_limit');
  }
  if ((place.higherPriorityAhead ?? 0) > 0) {
    held.push('higher_priority');
  }
  if (place.position !== null && place.position - 1 > (place.higherPriorityAhead ?? 0)) {
    held.push('earlier_submissions');
  }
  if (place.state === 'delayed') {
    held.push('retry_backoff');
  }
  return held;
}

/** The mean duration of the operations of its plan not yet completed; null when one of them has no history. */
function remainingRunMs(object: Pick<ProcessingObject, 'plan' | 'operationsStatus'>, durations: RecentDurations): number | null {
  let total = 0;
  for (const operation of object.plan.filter((name) => !object.operationsStatus[name]?.completed)) {
    const mean = durations.operations[operation]?.meanMs;
    if (mean === undefined) {
      return null;
    }
    total += mean;
  }
  return total;
}

/**
 * Every job ahead, and one running job when every slot is busy, must each free one of `maxWorkers`
 * slots, each after a mean object's run: a rough figure, which assumes objects like the recent ones.
 */
function startInMs(ahead: number, active: number, maxWorkers: number, durations: RecentDurations): number | null {
  if (durations.objects === 0) {
    return null;
  }
  const meanObjectMs = Object.values(durations.operations).reduce((sum, { meanMs, runs }) => sum + meanMs * runs, 0) / durations.objects;
  return ((ahead + (active >= maxWorkers ? 1 : 0)) * meanObjectMs) / maxWorkers;
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
