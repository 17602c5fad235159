import type { Queue } from 'bullmq';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProgressResponse } from '../src/objects/dto/object.responses';
import { listS3Keys, readS3Json } from './support/artifacts';
import { closeDatabase, objectRow, query } from './support/database';
import { objectsQueueOf } from './support/objects';
import { ServiceProcess, freePort, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

// These tests run the built service (`npm run build`) as separate worker processes next to an
// in-process API, all sharing one queue through the API app's Redis prefix.

const RUNNING_AS_WORKER = /Running as role 'worker'/;
const ANALYZE_PLAN = ['validate', 'transform', 'enrich', 'analyze'];
const EXPORT_PLAN = [...ANALYZE_PLAN, 'export'];

interface OperationStatusRow {
  completed: boolean;
  started_at: string | null;
  finished_at: string | null;
  attempts: number;
  s3_url?: string | null;
  files?: string[];
}

/** `promise`'s value, or `fallback` after `ms` (the timer is cleared either way, so it holds nothing open). */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, fallback, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** Every `Object <id> (job <job>): <outcome>` line a worker process logged. */
function handledJobs(worker: ServiceProcess): { objectId: string; jobId: string; outcome: string }[] {
  return [...worker.output().matchAll(/Object ([0-9a-f-]{36}) \(job ([^)]+)\): (\w+)/g)].map(([, objectId, jobId, outcome]) => ({
    objectId: objectId!,
    jobId: jobId!,
    outcome: outcome!,
  }));
}

/** The worker logs how a job ended just after the row settles: wait until `count` such lines are there. */
async function waitForHandledJobs(workers: ServiceProcess[], count: number): Promise<void> {
  await waitFor(() => workers.reduce((sum, worker) => sum + handledJobs(worker).length, 0) >= count, {
    timeoutMs: 30_000,
    what: `${count} handled jobs in the workers' output`,
  });
}

describe('worker processes', () => {
  const processes: ServiceProcess[] = [];
  const apps: TestApp[] = [];

  /** A worker-only process that shares `api`'s queue, database and bucket. */
  function spawnWorker(api: TestApp, overrides: Record<string, string> = {}): ServiceProcess {
    const worker = spawnService({ ...api.env, APP_ROLE: 'worker', LOG_LEVEL: 'log', ...overrides });
    processes.push(worker);
    return worker;
  }

  async function startApi(overrides: Record<string, string> = {}): Promise<TestApp> {
    const api = await startTestApp({ APP_ROLE: 'api', ...overrides });
    apps.push(api);
    return api;
  }

  async function submit(api: TestApp, identifier: string, operations: string[]): Promise<{ id: string; task_id: string }> {
    const response = await request(api.baseUrl).post('/api/v1/process').send({ identifier, operations }).expect(202);
    return response.body as { id: string; task_id: string };
  }

  async function progressOf(api: TestApp, id: string): Promise<ProgressResponse> {
    return (await request(api.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
  }

  afterEach(async () => {
    await Promise.all(
      processes.splice(0).map(async (worker) => {
        if ((await within(worker.stop('SIGTERM'), 15_000, 'still running')) === 'still running') {
          await worker.stop('SIGKILL');
        }
      }),
    );
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  afterAll(async () => {
    await closeDatabase();
  });

  /** Until a worker process has taken the job `taskId`; returns which one (its name, host:pid). */
  async function takerOf(queue: Queue, taskId: string): Promise<string> {
    return waitFor(async () => (await queue.getJob(taskId))?.processedBy ?? false, { what: `job ${taskId} to be taken` });
  }

  it('caps the objects processed at once at MAX_PARALLEL_WORKERS across two worker processes', async () => {
    const api = await startApi({ MAX_PARALLEL_WORKERS: '3' });
    const workerEnv = { MAX_PARALLEL_WORKERS: '3', SIMULATED_OPERATION_DELAY_MS: '300' };
    const workers = [spawnWorker(api, workerEnv), spawnWorker(api, workerEnv)];
    await Promise.all(workers.map((worker) => worker.waitForOutput(RUNNING_AS_WORKER, 60_000)));

    const prefix = uniqueIdentifier('global-limit');
    // Enough for three pairs and more than the limit at once after them.
    const total = 10;
    let maxProcessing = 0;
    let submitted = false;
    let stopped = false;
    const deadline = Date.now() + 120_000;
    // Samples until every object is completed; fails if they never all are.
    const sampler = (async () => {
      for (;;) {
        const [row] = await query<{ processing: string; completed: string }>(
          `select count(*) filter (where state = 'processing') as processing, count(*) filter (where state = 'completed') as completed
             from processing_objects where identifier like $1`,
          [`${prefix}-%`],
        );
        maxProcessing = Math.max(maxProcessing, Number(row!.processing));
        if (stopped || (submitted && Number(row!.completed) === total)) {
          return;
        }
        if (Date.now() > deadline) {
          throw new Error(`only ${row!.completed} of ${total} objects completed in time`);
        }
        await sleep(20);
      }
    })();

    // Whichever process holds a slot takes the next job as it finishes one, so the first claims decide who takes part.
    // Idle processes usually take turns, not always: objects go two at a time, one after the other is taken, until
    // the two are taken by different processes (both then run one at once); then the rest at once.
    const queue = objectsQueueOf(api);
    const ids: string[] = [];
    const submitAndTaker = async () => {
      const { id, task_id } = await submit(api, `${prefix}-${ids.length}`, ['analyze']);
      ids.push(id);
      return takerOf(queue, task_id);
    };
    try {
      await waitFor(async () => (await queue.getWorkers()).length === 2, { what: 'both worker processes to wait for jobs' });
      for (let pairs = 1; (await submitAndTaker()) === (await submitAndTaker()); pairs++) {
        if (pairs === 3) {
          throw new Error('one worker process took both objects of three pairs in a row');
        }
        // Both idle again, so that the next pair starts afresh.
        await waitFor(async () => (await Promise.all(ids.map(objectRow))).every((row) => row?.state === 'completed'), {
          what: 'the objects of the pair to complete',
        });
      }
      while (ids.length < total) {
        ids.push((await submit(api, `${prefix}-${ids.length}`, ['analyze'])).id);
      }
    } catch (error) {
      stopped = true;
      await sampler.catch(() => undefined);
      throw error;
    } finally {
      await queue.close();
    }
    submitted = true;
    await sampler;

    expect(maxProcessing).toBe(3);
    for (const id of ids) {
      expect(await objectRow(id)).toMatchObject({ state: 'completed' });
    }
    // Each object was completed exactly once, by one of the two processes, and both took part.
    await waitForHandledJobs(workers, total);
    const completedBy = workers.map((worker) =>
      handledJobs(worker)
        .filter((job) => job.outcome === 'completed')
        .map((job) => job.objectId),
    );
    expect([...completedBy[0]!, ...completedBy[1]!].sort()).toEqual([...ids].sort());
    expect(completedBy[0]!.length).toBeGreaterThanOrEqual(1);
    expect(completedBy[1]!.length).toBeGreaterThanOrEqual(1);
  }, 180_000);

  it('resumes an object whose worker was SIGKILLed, without rerunning completed operations', async () => {
    const api = await startApi();
    const workerEnv = { SIMULATED_OPERATION_DELAY_MS: '800', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' };
    const first = spawnWorker(api, workerEnv);
    await first.waitForOutput(RUNNING_AS_WORKER, 60_000);

    const identifier = uniqueIdentifier('sigkill');
    const { id } = await submit(api, identifier, ['export']);
    await waitFor(async () => (await progressOf(api, id)).progress.current >= 2, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: 'two operations to complete',
    });
    first.child.kill('SIGKILL');
    await first.exited;

    // What the killed worker left behind: read after it is gone, so nothing changes it any more.
    const before = (await objectRow(id))!;
    const statusesBefore = before.operations_status as Record<string, OperationStatusRow>;
    const doneBefore = EXPORT_PLAN.filter((operation) => statusesBefore[operation]?.completed);
    expect(before.state).toBe('processing');
    expect(before.plan).toEqual(EXPORT_PLAN);
    expect(doneBefore.length).toBeGreaterThanOrEqual(2);
    expect(doneBefore.length).toBeLessThan(EXPORT_PLAN.length);
    expect(handledJobs(first)).toEqual([]);

    const second = spawnWorker(api, workerEnv);
    await second.waitForOutput(RUNNING_AS_WORKER, 60_000);
    const final = await waitFor(
      async () => {
        const progress = await progressOf(api, id);
        return ['completed', 'failed', 'cancelled'].includes(progress.state) && progress;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: 'the object to settle after the crash' },
    );
    expect(final.state).toBe('completed');
    expect(final.progress).toMatchObject({ current: EXPORT_PLAN.length, total: EXPORT_PLAN.length });
    await waitForHandledJobs([second], 1);
    expect(handledJobs(second)).toEqual([{ objectId: id, jobId: expect.any(String) as unknown, outcome: 'completed' }]);

    const statusesAfter = (await objectRow(id))!.operations_status as Record<string, OperationStatusRow>;
    for (const operation of doneBefore) {
      expect({ operation, ...statusesAfter[operation] }).toMatchObject({
        operation,
        completed: true,
        attempts: 1,
        started_at: statusesBefore[operation]!.started_at,
        finished_at: statusesBefore[operation]!.finished_at,
      });
    }
    // The operation the kill interrupted ran once more; the ones after it ran once.
    for (const operation of EXPORT_PLAN.filter((name) => !doneBefore.includes(name))) {
      const interrupted = statusesBefore[operation] !== undefined;
      expect({ operation, ...statusesAfter[operation] }).toMatchObject({ operation, completed: true, attempts: interrupted ? 2 : 1 });
    }

    // Exactly one result per operation of the plan, plus the files the operations recorded, and nothing else.
    const bucket = api.config.s3.bucket;
    const resultKeys = EXPORT_PLAN.map((operation) => `${identifier}/${operation}_result.json`);
    const fileKeys = EXPORT_PLAN.flatMap((operation) => statusesAfter[operation]!.files ?? []).map((url) =>
      url.replace(`s3://${bucket}/`, ''),
    );
    expect(fileKeys).toEqual(expect.arrayContaining([`${identifier}/transform/records.ndjson`, `${identifier}/export/records.ndjson`]));
    const keys = await listS3Keys(`${identifier}/`);
    expect(keys).toEqual([...resultKeys, ...fileKeys].sort());
    for (const key of resultKeys) {
      expect(keys.filter((candidate) => candidate === key)).toHaveLength(1);
    }
    for (const operation of EXPORT_PLAN) {
      expect(final.s3_artifacts[operation]).toBe(`s3://${bucket}/${identifier}/${operation}_result.json`);
      await expect(readS3Json(final.s3_artifacts[operation]!)).resolves.toEqual(expect.any(Object));
    }
  }, 240_000);

  it('leaves exactly one winner when a cancel races the worker finishing', async () => {
    const api = await startApi();
    const worker = spawnWorker(api, { SIMULATED_OPERATION_DELAY_MS: '40' });
    await worker.waitForOutput(RUNNING_AS_WORKER, 60_000);

    const rounds = 10;
    const outcomes = { cancelled: 0, completed: 0 };
    for (let round = 0; round < rounds; round++) {
      const { id } = await submit(api, uniqueIdentifier(`race-${round}`), ['analyze']);
      // Aim the cancel at the last operation and the final state change, a little later each round.
      await waitFor(
        async () => {
          const progress = await progressOf(api, id);
          return (
            (progress.progress.current >= ANALYZE_PLAN.length - 1 || ['completed', 'failed', 'cancelled'].includes(progress.state)) &&
            progress
          );
        },
        { timeoutMs: 60_000, intervalMs: 5, what: `round ${round}: the last operation to start` },
      );
      await sleep((round % 5) * 15);
      const cancel = await request(api.baseUrl).post(`/api/v1/objects/${id}/cancel`);
      expect({ round, status: cancel.status, expected: [200, 409].includes(cancel.status) }).toEqual({
        round,
        status: cancel.status,
        expected: true,
      });

      // The worker reports how its run of the job ended; after that, nothing may change the state.
      await waitFor(() => handledJobs(worker).find((job) => job.objectId === id), {
        timeoutMs: 60_000,
        what: `round ${round}: the worker to finish the job`,
      });
      const workerOutcome = handledJobs(worker).find((job) => job.objectId === id)!.outcome;
      await sleep(300);
      const settled = await progressOf(api, id);
      await sleep(300);
      const later = await progressOf(api, id);
      const row = (await objectRow(id))!;

      if (cancel.status === 200) {
        outcomes.cancelled++;
        expect({
          round,
          cancelState: (cancel.body as components['schemas']['ProgressResponse']).state,
          settled: settled.state,
          later: later.state,
          row: row.state,
          workerOutcome,
        }).toEqual({
          round,
          cancelState: 'cancelled',
          settled: 'cancelled',
          later: 'cancelled',
          row: 'cancelled',
          workerOutcome: 'cancelled',
        });
      } else {
        outcomes.completed++;
        const refusal = cancel.body as components['schemas']['ErrorResponse'];
        expect({ round, code: refusal.code, details: refusal.details }).toEqual({
          round,
          code: 'invalid_transition',
          details: { current_state: 'completed', attempted_state: 'cancelled' },
        });
        expect({ round, settled: settled.state, later: later.state, row: row.state, workerOutcome }).toEqual({
          round,
          settled: 'completed',
          later: 'completed',
          row: 'completed',
          workerOutcome: 'completed',
        });
        expect(later.progress).toMatchObject({ current: ANALYZE_PLAN.length, total: ANALYZE_PLAN.length });
      }
      expect(handledJobs(worker).filter((job) => job.objectId === id)).toHaveLength(1);
    }
    expect(outcomes.cancelled + outcomes.completed).toBe(rounds);
  }, 300_000);

  it('a worker-only process serves no HTTP but processes jobs', async () => {
    const api = await startApi();
    const port = await freePort();
    const worker = spawnWorker(api, { PORT: String(port) });
    await worker.waitForOutput(RUNNING_AS_WORKER, 60_000);

    const refused = await fetch(`http://127.0.0.1:${port}/health/live`).then(
      () => 'answered',
      (error: Error & { cause?: { code?: string } }) => error.cause?.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    expect(worker.output()).not.toMatch(/Listening on/);

    const { id } = await submit(api, uniqueIdentifier('worker-role'), ['validate']);
    await waitFor(async () => (await progressOf(api, id)).state === 'completed', {
      timeoutMs: 60_000,
      what: 'the worker process to complete the object',
    });
    await waitForHandledJobs([worker], 1);
    expect(handledJobs(worker)).toEqual([{ objectId: id, jobId: expect.any(String) as unknown, outcome: 'completed' }]);
  }, 120_000);

  it.each([
    ['MAX_PARALLEL_WORKERS', 'abc'],
    ['APP_ROLE', 'bogus'],
    ['DATABASE_URL', 'not-a-url'],
  ])(
    'refuses to start with %s=%s, naming the variable',
    async (name, value) => {
      const service = spawnService({ ...(process.env as Record<string, string>), LOG_LEVEL: 'log', [name]: value });
      processes.push(service);
      const code = await within(service.exited, 30_000, 'still running');
      expect(code).toBe(1);
      expect(service.output()).toContain(name);
      expect(service.output()).not.toMatch(/^\s+at /m);
    },
    60_000,
  );
});
