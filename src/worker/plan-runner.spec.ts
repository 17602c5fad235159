import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidTransitionError } from '../common/domain-errors';
import { AppConfig } from '../config/app-config';
import type { ObjectNotifications } from '../notifications/object-notifications';
import type { MetricsService } from '../metrics/metrics.service';
import type { ObjectEventRecord, RecordedEvent } from '../objects/object-event.entity';
import type { ObjectPatch, ObjectToRun, RecordedChange } from '../objects/object-records';
import type { ObjectStateStore, StartedObject } from '../objects/object-state-store';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ObjectState } from '../objects/object-state';
import type { OperationStatus } from '../objects/processing-object.entity';
import { Cancellations, WorkerStoppingError } from './cancellations';
import { QueuePause } from '../queue/queue-pause';
import { IN_FLIGHT_GRACE_MS, PlanRunner, ProcessAttempt } from './plan-runner';
import type { StorageService } from '../storage/storage.service';
import type { OperationProcesses } from './operation-processes';
import { OperationDependencyError, type OperationTaskOutcome, type OperationTaskResult } from './operation-task';
import type { OperationRequest } from './operation-processes';

const PLAN = ['validate', 'transform', 'enrich'];
const TASK_ID = 'object-1.1';

/** One object row, changed only as the repository's conditional statements change it. */
class FakeObjects {
  state: ObjectState = 'queued';
  taskId = TASK_ID;
  operationsStatus: Record<string, Partial<OperationStatus>> = {};
  errorCode: string | null = null;
  errorMessage: string | null = null;
  readonly events: string[] = [];
  /** Thrown by the next call, as PostgreSQL being unreachable would be. */
  unreachable?: Error;
  /** Called after each recorded change, with its kind: where a test lands a concurrent change (a cancel, say). */
  afterRecord?: (kind: string) => void;

  private seq = 0;

  row(): ObjectToRun {
    return {
      id: 'object-1',
      identifier: 'doc',
      state: this.state,
      taskId: this.taskId,
      plan: PLAN,
      operationsStatus: structuredClone(this.operationsStatus) as Record<string, OperationStatus>,
      metadata: {},
      options: {},
      source: null,
      sourceInline: null,
      createdAt: new Date(0),
    };
  }

  startProcessing(_id: string, taskId: string, _patch: ObjectPatch, operationStartedAt: Date): Promise<StartedObject | null> {
    this.failIfUnreachable();
    if (this.state !== 'queued' || this.taskId !== taskId) {
      return Promise.resolve(null);
    }
    this.state = 'processing';
    const events = [this.record('state_changed:processing')];
    const next = PLAN.find((operation) => !this.operationsStatus[operation]?.completed) ?? null;
    if (next !== null) {
      const attempts = (this.operationsStatus[next]?.attempts ?? 0) + 1;
      this.apply({
        operationStatus: {
          operation: next,
          status: { completed: false, started_at: operationStartedAt.toISOString(), attempts, error: null },
        },
      });
      events.push(this.record(`operation_started:${next}`));
    }
    return Promise.resolve({ object: this.row(), startedOperation: next, events });
  }

  findById(): Promise<ObjectToRun | null> {
    this.failIfUnreachable();
    return Promise.resolve(this.row());
  }

  async findForRun(): Promise<ObjectToRun | null> {
    return this.findById();
  }

  updateTwiceWhileProcessing(
    _id: string,
    first: RecordedChange,
    second: RecordedChange & { to?: ObjectState },
  ): Promise<ObjectEventRecord[] | null> {
    this.failIfUnreachable();
    if (this.state !== 'processing') {
      return Promise.resolve(null);
    }
    this.apply(first.patch);
    const recorded = [this.record(`${first.event.kind}:${first.event.operation}`)];
    this.apply(second.patch);
    this.state = second.to ?? this.state;
    recorded.push(this.record(second.to ? `state_changed:${second.to}` : `${second.event.kind}:${second.event.operation}`));
    return Promise.resolve(recorded);
  }

  updateWhileProcessing(_id: string, patch: ObjectPatch, event: RecordedEvent): Promise<ObjectEventRecord | null> {
    this.failIfUnreachable();
    if (this.state !== 'processing') {
      return Promise.resolve(null);
    }
    this.apply(patch);
    return Promise.resolve(this.record(`${event.kind}:${event.operation}`));
  }

  transition(_id: string, to: ObjectState, patch: ObjectPatch, from: ObjectState[]): Promise<ObjectEventRecord> {
    this.failIfUnreachable();
    if (!from.includes(this.state)) {
      return Promise.reject(new InvalidTransitionError(this.state, to));
    }
    this.state = to;
    this.apply(patch);
    return Promise.resolve(this.record(`state_changed:${to}`));
  }

  private apply(patch: ObjectPatch): void {
    if (patch.operationStatus) {
      const { operation, status } = patch.operationStatus;
      this.operationsStatus[operation] = { ...this.operationsStatus[operation], ...status };
    }
    this.errorCode = patch.errorCode ?? this.errorCode;
    this.errorMessage = patch.errorMessage ?? this.errorMessage;
  }

  private record(kind: string): ObjectEventRecord {
    this.events.push(kind);
    this.afterRecord?.(kind);
    return { seq: ++this.seq, kind, operation: null, snapshot: {} } as unknown as ObjectEventRecord;
  }

  private failIfUnreachable(): void {
    const error = this.unreachable;
    if (error) {
      this.unreachable = undefined;
      throw error;
    }
  }
}

type Script = (task: OperationRequest, signal: AbortSignal) => Promise<OperationTaskOutcome>;

/** Runs each operation as its script says; by default each completes and keeps a file for the next. */
class FakeOperationProcesses {
  readonly ran: OperationRequest[] = [];
  readonly scripts = new Map<string, Script>();

  async run(
    task: OperationRequest,
    _budget: unknown,
    signal: AbortSignal,
    onProgress: (message: string) => Promise<void>,
  ): Promise<OperationTaskResult> {
    // As the real pool does: a run whose object is already cancelled does not start.
    signal.throwIfAborted();
    this.ran.push(structuredClone(task));
    const script = this.scripts.get(task.operation);
    await onProgress(`${task.operation}: halfway`);
    const outcome = script
      ? await script(task, signal)
      : {
          status: 'completed' as const,
          result: { key: `doc/${task.operation}_result.json`, s3Url: `s3://b/doc/${task.operation}_result.json`, size: 2 },
          files: [],
        };
    return {
      outcome,
      carry: { contents: [[`doc/${task.operation}/kept`, { body: Buffer.from(task.operation), contentType: 'text/plain' }]], shared: [] },
    };
  }
}

/** Settles when `signal` aborts, with its reason, as a run whose process is killed does. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
    }
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** A runner over `objects` and `processes`: a second one over the same row is another worker taking the job again. */
function setUp(objects = new FakeObjects(), processes = new FakeOperationProcesses()) {
  const pause = { stopped: false };
  const failures: string[] = [];
  const metrics = { timeOperation: () => () => 0, countRetry: () => undefined, countFailure: (code: string) => failures.push(code) };
  const cancellations = new Cancellations({} as ObjectNotifications);
  const notifications = { publishRecorded: () => Promise.resolve() };
  const deleted: string[] = [];
  const storage = {
    deleteKeys: (keys: string[]) => {
      deleted.push(...keys);
      return Promise.resolve();
    },
    deletePrefix: (prefix: string) => {
      deleted.push(`${prefix}*`);
      return Promise.resolve();
    },
  };
  const runner = new PlanRunner(
    new AppConfig({}),
    objects as unknown as ObjectsRepository,
    objects as unknown as ObjectStateStore,
    processes as unknown as OperationProcesses,
    storage as unknown as StorageService,
    notifications as unknown as ObjectNotifications,
    cancellations,
    metrics as unknown as MetricsService,
    { stopsRunning: () => Promise.resolve(pause.stopped) } as unknown as QueuePause,
  );
  return { objects, processes, runner, cancellations, failures, deleted, pause };
}

function attempt(attempts = 1, isFinalAttempt = false): ProcessAttempt {
  return { objectId: 'object-1', taskId: TASK_ID, attempts, isFinalAttempt };
}

const contentFailure: Script = () =>
  Promise.resolve({ status: 'failed', code: 'invalid_content', reason: 'Invalid JSON at line 1, column 2' });
const budgetFailure: Script = () =>
  Promise.resolve({
    status: 'failed',
    code: 'budget_exceeded',
    reason: 'exceeded its time budget of 100 ms and was stopped',
  });

describe('PlanRunner', () => {
  it('runs the plan in order, hands each operation what the earlier ones kept, records every step and completes', async () => {
    const { objects, processes, runner } = setUp();
    expect(await runner.process(attempt())).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(PLAN);
    expect(processes.ran[2]!.carry.contents.map(([key]) => key)).toEqual(['doc/validate/kept', 'doc/transform/kept']);
    expect(objects.state).toBe('completed');
    expect(objects.events).toEqual([
      'state_changed:processing',
      ...PLAN.flatMap((operation) => [
        `operation_started:${operation}`,
        `operation_progress:${operation}`,
        `operation_finished:${operation}`,
      ]),
      'state_changed:completed',
    ]);
    expect(objects.operationsStatus.transform).toMatchObject({ completed: true, attempts: 1, s3_url: 's3://b/doc/transform_result.json' });
  });

  it('resumes a job delivered again: operations already completed are not run again', async () => {
    const { objects, processes, runner } = setUp();
    objects.state = 'processing';
    objects.operationsStatus = { validate: { completed: true, attempts: 1 }, transform: { completed: false, attempts: 1 } };
    expect(await runner.process(attempt(1))).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(['transform', 'enrich']);
    expect(objects.operationsStatus.transform).toMatchObject({ completed: true, attempts: 2 });
  });

  it('does nothing for a job that is not the object’s current one', async () => {
    const { objects, processes, runner } = setUp();
    objects.state = 'processing';
    objects.taskId = 'object-1.2';
    expect(await runner.process(attempt())).toBe('skipped');
    expect(processes.ran).toEqual([]);
    expect(objects.events).toEqual([]);
  });

  it.each([
    ['invalid_content', contentFailure, 'validate: Invalid JSON at line 1, column 2'],
    ['budget_exceeded', budgetFailure, 'validate: exceeded its time budget of 100 ms and was stopped'],
  ])('fails the object for good on a %s failure, on the first attempt, and runs nothing after it', async (code, script, message) => {
    const { objects, processes, runner, failures } = setUp();
    processes.scripts.set('validate', script);
    expect(await runner.process(attempt(1, false))).toBe('failed');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate']);
    expect(objects).toMatchObject({ state: 'failed', errorCode: code, errorMessage: message });
    expect(failures).toEqual([code]);
  });

  it('records an unexpected error and rethrows it for the queue to retry while attempts remain', async () => {
    const { objects, processes, runner } = setUp();
    processes.scripts.set('transform', () => Promise.resolve({ status: 'error', cause: 'unexpected', message: 'Access Denied' }));
    await expect(runner.process(attempt(1, false))).rejects.toThrow('transform: Access Denied');
    expect(objects.state).toBe('processing');
    expect(objects.events).toContain('operation_failed:transform');
    expect(objects.operationsStatus.transform).toMatchObject({ completed: false, error: 'Access Denied' });
  });

  it('fails the object when an unexpected error happens on its last attempt', async () => {
    const { objects, processes, runner, failures } = setUp();
    processes.scripts.set('transform', () => Promise.resolve({ status: 'error', cause: 'unexpected', message: 'Access Denied' }));
    await expect(runner.process(attempt(5, true))).rejects.toThrow('transform: Access Denied');
    expect(objects).toMatchObject({
      state: 'failed',
      errorCode: 'operation_failed',
      errorMessage: 'transform failed after 5 attempt(s): Access Denied',
    });
    expect(failures).toEqual(['operation_failed']);
  });

  it('leaves the object processing, with nothing recorded against it, when a dependency is unreachable', async () => {
    const { objects, processes, runner } = setUp();
    processes.scripts.set('transform', () =>
      Promise.resolve({
        status: 'error',
        cause: 'dependency',
        message: 'connect ECONNREFUSED 127.0.0.1:9000',
      }),
    );
    await expect(runner.process(attempt(1, true))).rejects.toThrow(
      new OperationDependencyError('transform: connect ECONNREFUSED 127.0.0.1:9000'),
    );
    expect(objects.state).toBe('processing');
    expect(objects.events).not.toContain('operation_failed:transform');
    expect(objects.operationsStatus.transform).toMatchObject({ completed: false, error: null });
  });

  it('lets PostgreSQL being unreachable at the start of a job reach the worker as it is', async () => {
    const { objects, runner } = setUp();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    objects.unreachable = refused;
    await expect(runner.process(attempt())).rejects.toBe(refused);
    expect(objects.state).toBe('queued');
  });

  it('ends as cancelled, without settling, when the object is cancelled while an operation runs, removing what it stored', async () => {
    const { objects, processes, runner, cancellations, deleted } = setUp();
    processes.scripts.set('transform', async (_task, signal) => {
      objects.state = 'cancelled';
      cancellations.abort('object-1');
      return untilAborted(signal);
    });
    expect(await runner.process(attempt())).toBe('cancelled');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform']);
    expect(objects.state).toBe('cancelled');
    expect(deleted).toEqual(['doc/transform_result.json', 'doc/transform/*']);
    expect(objects.events.filter((event) => event.startsWith('state_changed'))).toEqual(['state_changed:processing']);
  });

  it('loses to a cancel that lands while the last operation finishes: the cancel stays, and what the operation stored goes', async () => {
    const { objects, processes, runner, deleted } = setUp();
    processes.scripts.set('enrich', (task) => {
      objects.state = 'cancelled';
      return Promise.resolve({
        status: 'completed',
        result: { key: `doc/${task.operation}_result.json`, s3Url: 's3://b/doc/enrich_result.json', size: 2 },
        files: [{ key: 'doc/enrich/schema.json', s3Url: 's3://b/doc/enrich/schema.json', size: 2 }],
      });
    });
    expect(await runner.process(attempt())).toBe('cancelled');
    expect(objects.state).toBe('cancelled');
    expect(objects.operationsStatus.enrich).toMatchObject({ completed: false });
    expect(deleted).toEqual(['doc/enrich_result.json', 'doc/enrich/*']);
  });

  it('hands the job back, leaving the object processing and resumable, when the queue is paused in stop mode while an operation runs', async () => {
    const { objects, processes, runner, pause } = setUp();
    processes.scripts.set('transform', (task) => {
      pause.stopped = true;
      return Promise.resolve({
        status: 'completed',
        result: { key: `doc/${task.operation}_result.json`, s3Url: 's3://b/doc/transform_result.json', size: 2 },
        files: [],
      });
    });
    await expect(runner.process(attempt())).rejects.toBeInstanceOf(WorkerStoppingError);
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform']);
    expect(objects.state).toBe('processing');
    expect(objects.operationsStatus.transform).toMatchObject({ completed: true, attempts: 1 });

    pause.stopped = false;
    expect(await runner.process(attempt())).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform', 'enrich']);
  });

  it('hands the job back when a stopping worker aborts the running operation', async () => {
    const { processes, runner, cancellations } = setUp();
    processes.scripts.set('validate', async (_task, signal) => {
      cancellations.abortAll();
      return untilAborted(signal);
    });
    await expect(runner.process(attempt())).rejects.toBeInstanceOf(WorkerStoppingError);
  });

  it('removes the job directory again once an operation process killed while writing there is surely gone', async () => {
    const { processes, runner, cancellations } = setUp();
    let directory = '';
    processes.scripts.set('validate', async (task, signal) => {
      directory = task.carry.directory;
      // The killed process still makes the directory and writes into it just after the job let go of it.
      setTimeout(() => void mkdir(directory).then(() => writeFile(join(directory, 'content'), 'partial')), 50);
      cancellations.abortAll();
      return untilAborted(signal);
    });
    await expect(runner.process(attempt())).rejects.toBeInstanceOf(WorkerStoppingError);
    await sleep(200);
    expect(existsSync(join(directory, 'content'))).toBe(true);
    await sleep(IN_FLIGHT_GRACE_MS);
    expect(existsSync(directory)).toBe(false);
  });

  it('marks a processing object failed when its job is given up, and never rejects, even with PostgreSQL unreachable', async () => {
    const { objects, runner } = setUp();
    objects.state = 'processing';
    objects.unreachable = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    await expect(runner.abandon('object-1', TASK_ID, 'stalled')).resolves.toBeUndefined();
    expect(objects.state).toBe('processing');
    await runner.abandon('object-1', TASK_ID, 'Processing was given up: job stalled more than allowable limit');
    expect(objects).toMatchObject({
      state: 'failed',
      errorCode: 'operation_failed',
      errorMessage: 'Processing was given up: job stalled more than allowable limit',
    });
  });
});

const completes: Script = (task) =>
  Promise.resolve({
    status: 'completed',
    result: { key: `doc/${task.operation}_result.json`, s3Url: `s3://b/doc/${task.operation}_result.json`, size: 2 },
    files: [],
  });

describe('PlanRunner: resume after redelivery', () => {
  it('settles a job delivered again after its last operation completed, running nothing again', async () => {
    const { objects, processes, runner } = setUp();
    objects.state = 'processing';
    objects.operationsStatus = Object.fromEntries(PLAN.map((operation) => [operation, { completed: true, attempts: 1 }]));
    expect(await runner.process(attempt(2))).toBe('completed');
    expect(processes.ran).toEqual([]);
    expect(objects.events).toEqual(['state_changed:completed']);
  });

  it('runs again, on the next attempt, the operation whose attempt failed, and nothing completed before it', async () => {
    const objects = new FakeObjects();
    const processes = new FakeOperationProcesses();
    processes.scripts.set('transform', () => Promise.resolve({ status: 'error', cause: 'unexpected', message: 'Access Denied' }));
    await expect(setUp(objects, processes).runner.process(attempt(1))).rejects.toThrow('transform: Access Denied');

    processes.scripts.delete('transform');
    expect(await setUp(objects, processes).runner.process(attempt(2))).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform', 'transform', 'enrich']);
    expect(objects.operationsStatus).toMatchObject({
      validate: { attempts: 1 },
      transform: { completed: true, attempts: 2, error: null },
      enrich: { attempts: 1 },
    });
  });
});

describe('PlanRunner: the cancel race', () => {
  it('skips a job whose object was cancelled while it waited in the queue', async () => {
    const { objects, processes, runner } = setUp();
    objects.state = 'cancelled';
    expect(await runner.process(attempt())).toBe('skipped');
    expect(processes.ran).toEqual([]);
    expect(objects.events).toEqual([]);
  });

  it('leaves no moment between two operations for a cancel: one finishing records the next one started, and a cancel after that stops the next one', async () => {
    const { objects, processes, runner, deleted } = setUp();
    objects.afterRecord = (kind) => {
      if (kind === 'operation_started:transform') {
        objects.state = 'cancelled';
      }
    };
    expect(await runner.process(attempt())).toBe('cancelled');
    expect(objects.events.filter((event) => !event.startsWith('operation_progress'))).toEqual([
      'state_changed:processing',
      'operation_started:validate',
      'operation_finished:validate',
      'operation_started:transform',
    ]);
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform']);
    expect(objects.state).toBe('cancelled');
    expect(objects.operationsStatus.validate).toMatchObject({ completed: true });
    expect(objects.operationsStatus.transform).toMatchObject({ completed: false });
    expect(deleted).toEqual(['doc/transform_result.json', 'doc/transform/*']);
  });

  it('runs nothing when the cancel notification lands just after the start, which recorded the first operation started already', async () => {
    const { objects, processes, runner, cancellations } = setUp();
    objects.afterRecord = (kind) => {
      if (kind === 'operation_started:validate') {
        objects.state = 'cancelled';
        cancellations.abort('object-1');
      }
    };
    expect(await runner.process(attempt())).toBe('cancelled');
    expect(processes.ran).toEqual([]);
    expect(objects.events).toEqual(['state_changed:processing', 'operation_started:validate']);
    expect(objects.state).toBe('cancelled');
  });

  it('stops the running operation when its progress finds the object cancelled, even with no cancel notification received', async () => {
    const { objects, processes, runner, deleted } = setUp();
    objects.afterRecord = (kind) => {
      if (kind === 'operation_started:transform') {
        objects.state = 'cancelled';
      }
    };
    processes.scripts.set('transform', async (_task, signal) => untilAborted(signal));
    expect(await runner.process(attempt())).toBe('cancelled');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform']);
    expect(objects.state).toBe('cancelled');
    expect(deleted).toEqual(['doc/transform_result.json', 'doc/transform/*']);
  });
});

describe('PlanRunner: transient and final failures', () => {
  it('treats an operation process that dies as transient: recorded, rethrown for the queue to retry, the object still processing', async () => {
    const { objects, processes, runner, failures } = setUp();
    processes.scripts.set('transform', () => Promise.reject(new Error('The operation process exited with code 134')));
    await expect(runner.process(attempt(1, false))).rejects.toThrow('exited with code 134');
    expect(objects.state).toBe('processing');
    expect(objects.events).toContain('operation_failed:transform');
    expect(failures).toEqual([]);
  });

  it('fails the object when its operation process dies on the last attempt', async () => {
    const { objects, processes, runner, failures } = setUp();
    processes.scripts.set('transform', () => Promise.reject(new Error('The operation process exited with code 134')));
    await expect(runner.process(attempt(3, true))).rejects.toThrow('exited with code 134');
    expect(objects).toMatchObject({
      state: 'failed',
      errorCode: 'operation_failed',
      errorMessage: 'transform failed after 3 attempt(s): The operation process exited with code 134',
    });
    expect(failures).toEqual(['operation_failed']);
  });

  it('never hands a content failure back for a retry: the run resolves failed, whatever attempts remain, keeping what completed before it', async () => {
    const { objects, processes, runner } = setUp();
    processes.scripts.set('enrich', contentFailure);
    await expect(runner.process(attempt(1, false))).resolves.toBe('failed');
    expect(objects.state).toBe('failed');
    expect(objects.operationsStatus).toMatchObject({
      validate: { completed: true },
      transform: { completed: true },
      enrich: { error: 'Invalid JSON at line 1, column 2' },
    });
  });
});

describe('PlanRunner: drain', () => {
  it('lets the running operation finish and records it, hands the job back, and the job taken again resumes at the next operation', async () => {
    const objects = new FakeObjects();
    const processes = new FakeOperationProcesses();
    const stopping = setUp(objects, processes).runner;
    processes.scripts.set('transform', async (task, signal) => {
      stopping.drain();
      return completes(task, signal);
    });
    await expect(stopping.process(attempt())).rejects.toBeInstanceOf(WorkerStoppingError);
    expect(objects.state).toBe('processing');
    expect(objects.operationsStatus.transform).toMatchObject({ completed: true, attempts: 1 });

    processes.scripts.delete('transform');
    expect(await setUp(objects, processes).runner.process(attempt())).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(['validate', 'transform', 'enrich']);
  });

  it('hands a job taken while draining back before anything is recorded, the object left queued for another worker', async () => {
    const objects = new FakeObjects();
    const processes = new FakeOperationProcesses();
    const stopping = setUp(objects, processes).runner;
    stopping.drain();
    await expect(stopping.process(attempt())).rejects.toBeInstanceOf(WorkerStoppingError);
    expect(processes.ran).toEqual([]);
    expect(objects.state).toBe('queued');
    expect(objects.events).toEqual([]);

    expect(await setUp(objects, processes).runner.process(attempt())).toBe('completed');
    expect(processes.ran.map((task) => task.operation)).toEqual(PLAN);
  });
});
