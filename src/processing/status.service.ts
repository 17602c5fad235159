import { Injectable } from '@nestjs/common';
import { type Principal, visibleTeam } from '../access/principal';
import { AppConfig } from '../config/app-config';
import { ObjectsRepository } from '../objects/objects.repository';
import { MaintenanceQueue } from '../queue/maintenance-queue';
import { ProcessingQueue } from '../queue/processing-queue';
import { QueuePause } from '../queue/queue-pause';
import { toQueuePauseView } from '../queue/queue-pause.presenter';
import { RetentionRepository } from '../retention/retention.repository';
import type { RetentionStatusResponse, StatusResponse } from './dto/processing.responses';

/** The service's status as a caller sees it: the queue, the workers, the caller's objects by state, the pause and the next retention run. */
@Injectable()
export class StatusService {
  constructor(
    private readonly config: AppConfig,
    private readonly queue: ProcessingQueue,
    private readonly objects: ObjectsRepository,
    private readonly queuePause: QueuePause,
    private readonly maintenance: MaintenanceQueue,
    private readonly retention: RetentionRepository,
  ) {}

  async statusFor(caller: Principal): Promise<StatusResponse> {
    const [counts, workers, byState, pause, retention] = await Promise.all([
      this.queue.counts(),
      this.queue.workerCount(),
      this.objects.countByState(visibleTeam(caller)),
      this.queuePause.current(),
      this.retentionStatus(caller),
    ]);
    return {
      queue_size: counts.waiting + counts.delayed,
      active_workers: counts.active,
      max_workers: this.config.maxParallelWorkers,
      worker_processes: workers,
      dead_letters: counts.failed,
      objects_by_state: byState,
      pause: toQueuePauseView(pause),
      retention,
    };
  }

  private async retentionStatus(caller: Principal): Promise<RetentionStatusResponse> {
    const retention = this.config.retention;
    const nextRun = retention ? await this.maintenance.nextRetentionRun() : null;
    if (!retention || !nextRun) {
      return {
        enabled: retention !== undefined,
        max_age_seconds: retention?.maxAgeSeconds ?? null,
        next_run_at: null,
        next_run_count: null,
      };
    }
    const cutoff = new Date(nextRun.getTime() - retention.maxAgeSeconds * 1000);
    return {
      enabled: true,
      max_age_seconds: retention.maxAgeSeconds,
      next_run_at: nextRun.toISOString(),
      next_run_count: await this.retention.countFinishedBefore(cutoff, visibleTeam(caller)),
    };
  }
}
