import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap, Type } from '@nestjs/common';
import { SpanKind, context } from '@opentelemetry/api';
import { DelayedError, Job, UnrecoverableError, WaitingError, WorkerOptions } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { hostname } from 'node:os';
import { isDependencyFailure } from '../common/dependency-failure';
import { AppConfig } from '../config/app-config';
import { GlobalLimit } from '../queue/global-limit';
import { JobItem, JobName, OBJECTS_QUEUE } from '../queue/jobs';
import { workerConnection } from '../queue/queue-connection';
import { annotateSpan, contextFrom, inSpan } from '../tracing/trace-context';
import { Cancellations, WorkerStoppingError } from './cancellations';
import { DependencyGate } from './dependency-gate';
import { OperationDependencyError } from './operation-task';
import { PlanRunner, ProcessOutcome } from './plan-runner';

/** How many times a job may stall (its worker died, or its lock lapsed) before the queue gives it up. */
const MAX_STALLED_COUNT = 10;

type ObjectJob = Job<JobItem['data'], ProcessOutcome, JobItem['name']>;

/**
 * The BullMQ processor of the objects queue: runs each job's plan (PlanRunner) in the job's log and
 * trace context. Concurrency is capped across all workers by the queue's global limit, which is set
 * before this worker takes its first job (the worker is built not running, and run at bootstrap).
 *
 * Its worker options come from validated config, and @nestjs/bullmq reads a processor's options
 * only from its @Processor decorator: the decorated class is therefore declared per configuration
 * by objectJobsProcessorFor(config), which WorkerModule.forRoot(config) registers. BullModule closes
 * workers at application shutdown and waits for their jobs without a deadline; this class closes
 * its worker earlier (beforeApplicationShutdown), aborting the operations still running shortly
 * before the shutdown deadline, so the jobs are handed back and the close stays bounded.
 */
@Injectable()
export class ObjectJobsProcessor extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ObjectJobsProcessor.name);

  constructor(
    private readonly config: AppConfig,
    private readonly globalLimit: GlobalLimit,
    private readonly runner: PlanRunner,
    private readonly cancellations: Cancellations,
    private readonly gate: DependencyGate,
    private readonly pino: PinoLogger,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.globalLimit.start();
    // As BullMQ's own autorun does: the loop reports its errors on the worker.
    this.worker.run().catch((error: Error) => this.worker.emit('error', error));
    this.logger.log(`Worker started (global limit ${this.config.maxParallelWorkers})`);
  }

  process(job: ObjectJob, token?: string): Promise<ProcessOutcome> {
    return this.inJobContext(job, () => this.traced(job, () => this.handBackWhenStopping(job, token)));
  }

  @OnWorkerEvent('failed')
  onFailed(job: ObjectJob | undefined, error: Error): void {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled/i.test(error.message))) {
      // abandon() never rejects.
      void this.inJobContext(job, () => this.runner.abandon(job.data.objectId, job.id ?? '', `Processing was given up: ${error.message}`));
    }
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.error(`Worker error: ${error.message}`);
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
      if (
        (error instanceof OperationDependencyError || isDependencyFailure(error)) &&
        (await this.gate.closeIfUnreachable(this.worker, reason))
      ) {
        try {
          await job.moveToDelayed(Date.now() + this.config.dependencyRetryMs, token);
        } catch (moveError) {
          // Redis is down too: the job's lock lapses, and the stalled-job check hands it back once Redis is up.
          this.logger.warn(
            `Object ${job.data.objectId} (job ${job.id}): could not be put back to wait (${(moveError as Error).message}) after: ${reason}`,
          );
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
        const outcome = await this.runner.process({
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
    this.runner.drain();
    const abortBeforeDeadline = setTimeout(
      () => this.cancellations.abortAll(),
      Math.max(this.config.shutdownTimeoutMs - 5000, this.config.shutdownTimeoutMs / 2),
    );
    await this.worker.close();
    clearTimeout(abortBeforeDeadline);
  }
}

/** The worker options of this process, from validated config: passed to BullMQ when the worker is built. */
export function objectWorkerOptions(config: AppConfig): Partial<WorkerOptions> {
  return {
    connection: workerConnection(config),
    autorun: false,
    // Kept on every job it takes (job.processedBy): which process, on which host or pod, ran the job. Also the name of
    // its Redis connection, which Redis refuses outside printable ASCII (the worker would then go uncounted).
    name: `${hostname().replace(/[^!-~]/g, '_')}:${process.pid}`,
    concurrency: config.maxParallelWorkers,
    lockDuration: config.jobs.lockDurationMs,
    stalledInterval: config.jobs.stalledIntervalMs,
    // A job stalls when its worker process dies or loses Redis for longer than the lock: never because of
    // its content, which runs in operation processes of its own. Generous, so that a burst of worker
    // restarts or a long Redis outage does not fail objects; still bounded, against a crash loop.
    maxStalledCount: MAX_STALLED_COUNT,
  };
}

/** The processor, its @Processor decorator holding this configuration's worker options. */
export function objectJobsProcessorFor(config: AppConfig): Type<ObjectJobsProcessor> {
  @Processor(OBJECTS_QUEUE, objectWorkerOptions(config))
  class ConfiguredObjectJobsProcessor extends ObjectJobsProcessor {}
  return ConfiguredObjectJobsProcessor;
}
