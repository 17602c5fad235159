import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { ObjectsRepository } from '../objects/objects.repository';
import { jobPriority } from '../objects/objects.service';
import { JobName } from '../queue/jobs';
import { ProcessingQueue } from '../queue/processing-queue';

const BATCH = 100;

/**
 * Re-adds the job of any queued or processing object whose job is missing from the queue
 * (a crash between the database commit and the enqueue, or a Redis that lost data), so no
 * object waits forever. Job ids are deterministic, so concurrent reconcilers add it once.
 */
@Injectable()
export class QueueReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(QueueReconciler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly config: AppConfig,
    private readonly objects: ObjectsRepository,
    private readonly queue: ProcessingQueue,
    private readonly pino: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.reconcile()
        .catch((error: Error) => this.logger.warn(`Reconciliation skipped: ${error.message}`))
        .finally(() => (this.running = undefined));
    }, this.config.jobs.reconcileIntervalMs);
  }

  async reconcile(): Promise<void> {
    const settleTime = Math.max(this.config.jobs.reconcileIntervalMs, 5000);
    const candidates = await this.objects.findUnsettledSince(new Date(Date.now() - settleTime), BATCH);
    for (const object of candidates) {
      if (object.taskId && !(await this.queue.hasJob(object.taskId))) {
        await this.queue.enqueue({ name: JobName.ProcessObject, data: { objectId: object.id } }, { jobId: object.taskId, priority: jobPriority(object.priority) });
        const taskId = object.taskId;
        this.pino.runInContext(() => this.logger.warn(`Object ${object.id} had no job in the queue; re-added job ${taskId}`), {
          bindings: { objectId: object.id, jobId: taskId },
        });
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
