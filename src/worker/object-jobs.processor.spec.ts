import { DelayedError, WaitingError, Worker } from 'bullmq';
import type { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import type { ObjectNotifications } from '../notifications/object-notifications';
import type { GlobalLimit } from '../queue/global-limit';
import { JobName } from '../queue/jobs';
import { Cancellations, WorkerStoppingError } from './cancellations';
import type { DependencyGate, JobTaker } from './dependency-gate';
import { ObjectJobsProcessor } from './object-jobs.processor';
import { OperationDependencyError } from './operation-task';
import type { PlanRunner, ProcessAttempt, ProcessOutcome } from './plan-runner';

/** A job of the objects queue that records where the processor moves it. */
function fakeJob(attemptsMade = 0, attempts = 3) {
  const job = {
    id: 'object-1.1',
    name: JobName.ProcessObject,
    data: { objectId: 'object-1' },
    opts: { attempts },
    attemptsMade,
    movedTo: 'active' as 'active' | 'wait' | 'delayed',
    delayedUntil: 0,
    moveToWait() {
      job.movedTo = 'wait';
      return Promise.resolve();
    },
    moveToDelayed(timestamp: number) {
      job.movedTo = 'delayed';
      job.delayedUntil = timestamp;
      return Promise.resolve();
    },
  };
  return job;
}

/** A plan runner whose run does what the test says, and records what it was asked. */
class FakeRunner {
  run: (attempt: ProcessAttempt) => Promise<ProcessOutcome> = () => Promise.resolve('completed');
  readonly attempts: ProcessAttempt[] = [];
  readonly abandoned: string[] = [];
  draining = false;

  process(attempt: ProcessAttempt): Promise<ProcessOutcome> {
    this.attempts.push(attempt);
    return this.run(attempt);
  }

  abandon(objectId: string, _taskId: string, reason: string): Promise<void> {
    this.abandoned.push(`${objectId}: ${reason}`);
    return Promise.resolve();
  }

  drain(): void {
    this.draining = true;
  }
}

interface SetUp {
  cancellations?: Cancellations;
  unreachable?: string[];
  closeWorker?: () => Promise<void>;
  env?: Record<string, string>;
}

function setUp({
  cancellations = new Cancellations({} as ObjectNotifications),
  unreachable = [],
  closeWorker = () => Promise.resolve(),
  env = {},
}: SetUp = {}) {
  const config = new AppConfig({ DEPENDENCY_RETRY_MS: '2000', ...env });
  const runner = new FakeRunner();
  const paused: JobTaker[] = [];
  const gate = {
    closeIfUnreachable(taker: JobTaker) {
      if (unreachable.length > 0) {
        paused.push(taker);
      }
      return Promise.resolve(unreachable.length > 0);
    },
  };
  const pino = { runInContext: <T>(work: () => T) => work() } as unknown as PinoLogger;
  const processor = new ObjectJobsProcessor(
    config,
    {} as GlobalLimit,
    runner as unknown as PlanRunner,
    cancellations,
    gate as unknown as DependencyGate,
    pino,
  );
  const worker = { close: closeWorker } as unknown as Worker;
  // What @nestjs/bullmq's explorer does once it has built the worker.
  Object.defineProperty(processor, '_worker', { value: worker });
  return { processor, runner, paused, worker };
}

type ObjectJob = Parameters<ObjectJobsProcessor['process']>[0];

const run = (processor: ObjectJobsProcessor, job: ReturnType<typeof fakeJob>) => processor.process(job as unknown as ObjectJob, 'token');

describe('ObjectJobsProcessor', () => {
  it('runs the plan of the job’s object, telling the runner which attempt this is', async () => {
    const { processor, runner } = setUp();
    await expect(run(processor, fakeJob(2, 3))).resolves.toBe('completed');
    expect(runner.attempts).toEqual([{ objectId: 'object-1', taskId: 'object-1.1', attempts: 3, isFinalAttempt: true }]);
  });

  it('hands a job the stopping worker interrupted back to the queue, spending no attempt', async () => {
    const { processor, runner } = setUp();
    runner.run = () => Promise.reject(new WorkerStoppingError());
    const job = fakeJob();
    await expect(run(processor, job)).rejects.toBeInstanceOf(WaitingError);
    expect(job.movedTo).toBe('wait');
  });

  it('puts a job that met an unreachable dependency off until DEPENDENCY_RETRY_MS later, pausing this worker, spending no attempt', async () => {
    const { processor, runner, paused, worker } = setUp({ unreachable: ['s3'] });
    runner.run = () => Promise.reject(new OperationDependencyError('transform: connect ECONNREFUSED 127.0.0.1:9000'));
    const job = fakeJob();
    const before = Date.now();
    await expect(run(processor, job)).rejects.toBeInstanceOf(DelayedError);
    expect(job.movedTo).toBe('delayed');
    expect(job.delayedUntil).toBeGreaterThanOrEqual(before + 2000);
    expect(paused).toEqual([worker]);
  });

  it('lets a dependency error spend an attempt when every dependency answers (the failure was the job’s own)', async () => {
    const { processor, runner } = setUp();
    const error = new OperationDependencyError('transform: S3 answered 500 for one key');
    runner.run = () => Promise.reject(error);
    const job = fakeJob();
    await expect(run(processor, job)).rejects.toBe(error);
    expect(job.movedTo).toBe('active');
  });

  it('abandons the object of a job given up by the queue (last attempt, or stalled out), and of no other', () => {
    const { processor, runner } = setUp();
    processor.onFailed(fakeJob(1, 3) as unknown as ObjectJob, new Error('transform: Access Denied'));
    processor.onFailed(fakeJob(3, 3) as unknown as ObjectJob, new Error('transform: Access Denied'));
    processor.onFailed(fakeJob(1, 3) as unknown as ObjectJob, new Error('job stalled more than allowable limit'));
    expect(runner.abandoned).toEqual([
      'object-1: Processing was given up: transform: Access Denied',
      'object-1: Processing was given up: job stalled more than allowable limit',
    ]);
  });

  it('on shutdown, drains the runner and aborts operations still running shortly before the deadline, so the worker’s close ends in time', async () => {
    const cancellations = new Cancellations({} as ObjectNotifications);
    const running = cancellations.register('object-1');
    const { processor, runner } = setUp({
      cancellations,
      env: { SHUTDOWN_TIMEOUT_MS: '1000' },
      // The worker's close waits for its active job, which ends once its operation is aborted.
      closeWorker: () => new Promise<void>((resolve) => running.signal.addEventListener('abort', () => resolve(), { once: true })),
    });
    const started = Date.now();

    await processor.beforeApplicationShutdown();

    expect(runner.draining).toBe(true);
    expect(running.signal.reason).toBeInstanceOf(WorkerStoppingError);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
