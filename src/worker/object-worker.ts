import { Injectable, Logger, OnApplicationBootstrap, BeforeApplicationShutdown } from '@nestjs/common';
import { SpanKind, context } from '@opentelemetry/api';
import { DelayedError, Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { isDependencyFailure } from '../common/dependency-failure';
import { AppConfig } from '../config/app-config';
import { GlobalLimit } from '../queue/global-limit';
import { JobItem, JobName, OBJECTS_QUEUE } from '../queue/jobs';
import { annotateSpan, contextFrom, inSpan } from '../tracing/trace-context';
import { Cancellations, WorkerStoppingError } from './cancellations';
import { DependencyGate } from './dependency-gate';
import { OperationDependencyError } from './operation-task';
import { ObjectProcessor, ProcessOutcome } from './object-processor';

/** How many times a job may stall (its worker died, or its lock lapsed) before the queue gives it up. */
const MAX_STALLED_COUNT = 10;

type ObjectJob = Job<JobItem['data'], ProcessOutcome, JobItem['name']>;

/** The BullMQ worker of this process. Concurrency is capped across all workers by the queue's global limit. */
@Injectable()
export class ObjectWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ObjectWorker.name);
  private worker?: Worker<JobItem['data'], ProcessOutcome, JobItem['name']>;

  constructor(
    private readonly config: AppConfig,
    private readonly globalLimit: GlobalLimit,
    private readonly processor: ObjectProcessor,
    private readonly cancellations: Cancellations,
    private readonly gate: DependencyGate,
    private readonly pino: PinoLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.globalLimit.start();
    this.worker = new Worker(OBJECTS_QUEUE, (job: ObjectJob, token?: string) => this.inJobContext(job, () => this.traced(job, () => this.handBackWhenStopping(job, token))), {
      connection: { url: this.config.redis.url, maxRetriesPerRequest: null },
      prefix: this.config.redis.prefix,
      concurrency: this.config.maxParallelWorkers,
      lockDuration: this.config.jobs.lockDurationMs,
      stalledInterval: this.config.jobs.stalledIntervalMs,
      // A job stalls when its worker process dies or loses Redis for longer than the lock: never because of
      // its content, which runs in operation processes of its own. Generous, so that a burst of worker
      // restarts or a long Redis outage does not fail objects; still bounded, against a crash loop.
      maxStalledCount: MAX_STALLED_COUNT,
    });
    this.worker.on('failed', (job, error) => {
      if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled/i.test(error.message))) {
        // abandon() never rejects.
        void this.inJobContext(job, () => this.processor.abandon(job.data.objectId, job.id ?? '', `Processing was given up: ${error.message}`));
      }
    });
    this.worker.on('error', (error) => this.logger.error(`Worker error: ${error.message}`));
    this.logger.log(`Worker started (global limit ${this.config.maxParallelWorkers})`);
  }

  /**
   * Every line logged while `work` runs, by any class, carries the job's objectId and jobId, and the id of the
   * request that queued it; `work` runs in the trace of that request.
   */
  private inJobContext<T>(job: ObjectJob, work: () => T): T {
    const { objectId, origin } = job.data;
    const bindings = { objectId, jobId: job.id, ...(origin?.reqId === undefined ? {} : { reqId: origin.reqId }) };
    return context.with(contextFrom(origin), () => this.pino.runInContext(work, { bindings }));
  }

  /** The job's span: its operations' spans are its children. A job handed back or put off is not a failure. */
  private traced(job: ObjectJob, work: () => Promise<ProcessOutcome>): Promise<ProcessOutcome> {
    const attributes = {
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': OBJECTS_QUEUE,
      'messaging.message.id': job.id ?? '',
      'object.id': job.data.objectId,
      'job.attempt': job.attemptsMade + 1,
    };
    const expected = (error: unknown) => error instanceof WaitingError || error instanceof DelayedError;
    return inSpan(`process ${job.name}`, { kind: SpanKind.CONSUMER, attributes, expected }, async (span) => {
      const outcome = await work();
      span.setAttribute('job.outcome', outcome);
      return outcome;
    });
  }

  /**
   * Runs the job; a job interrupted by the worker stopping goes back to the queue, and one that met an
   * unreachable dependency waits for it, neither spending an attempt.
   */
  private async handBackWhenStopping(job: ObjectJob, token: string | undefined): Promise<ProcessOutcome> {
    try {
      return await this.handle(job);
    } catch (error) {
      if (error instanceof WorkerStoppingError) {
        await job.moveToWait(token);
        annotateSpan({ 'job.outcome': 'handed back' });
        this.logger.log(`Object ${job.data.objectId} (job ${job.id}): handed back to the queue`);
        throw new WaitingError();
      }
      const reason = (error as Error).message;
      if (this.worker && (error instanceof OperationDependencyError || isDependencyFailure(error)) && (await this.gate.closeIfUnreachable(this.worker, reason))) {
        try {
          await job.moveToDelayed(Date.now() + this.config.dependencyRetryMs, token);
        } catch (moveError) {
          // Redis is down too: the job's lock lapses, and the stalled-job check hands it back once Redis is up.
          this.logger.warn(`Object ${job.data.objectId} (job ${job.id}): could not be put back to wait (${(moveError as Error).message}) after: ${reason}`);
          throw moveError;
        }
        annotateSpan({ 'job.outcome': 'waits for a dependency' });
        this.logger.warn(`Object ${job.data.objectId} (job ${job.id}): waits for a dependency: ${reason}`);
        throw new DelayedError();
      }
      throw error;
    }
  }

  private async handle(job: ObjectJob): Promise<ProcessOutcome> {
    switch (job.name) {
      case JobName.ProcessObject: {
        const attempts = job.opts.attempts ?? 1;
        const outcome = await this.processor.process({
          objectId: job.data.objectId,
          taskId: job.id ?? '',
          attempts: job.attemptsMade + 1,
          isFinalAttempt: job.attemptsMade + 1 >= attempts,
        });
        this.logger.log(`Object ${job.data.objectId} (job ${job.id}): ${outcome}`);
        return outcome;
      }
      default:
        throw new UnrecoverableError(`No handler for job ${String(job.name)}`);
    }
  }

  /**
   * Takes no new job, lets the running operations finish and hands their jobs back; operations
   * still running shortly before the shutdown deadline are aborted and handed back too.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.processor.drain();
    const abortBeforeDeadline = setTimeout(() => this.cancellations.abortAll(), Math.max(this.config.shutdownTimeoutMs - 5000, this.config.shutdownTimeoutMs / 2));
    await this.worker?.close();
    clearTimeout(abortBeforeDeadline);
  }
}
