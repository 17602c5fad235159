import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import type { SweepPosition } from '../src/objects/object-records';
import { ObjectsRepository } from '../src/objects/objects.repository';
import { JobName, OBJECTS_QUEUE, taskIdFor } from '../src/queue/jobs';
import { closeDatabase, objectRow, query } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier, uniquePrefix } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

/** A queued or processing object written straight to the database, last changed a minute ago, as a crash would leave it. */
async function insertStranded(state: 'queued' | 'processing'): Promise<string> {
  const id = randomUUID();
  await query(
    `insert into processing_objects (id, identifier, state, operations, plan, progress, task_id, attempts, created_at, updated_at, started_at)
     values ($1, $2, $3, '["validate"]', '["validate"]', '{"current":0,"total":1,"message":"Processing"}', $4, 1,
             now() - interval '1 minute', now() - interval '1 minute', case when $3 = 'processing' then now() - interval '1 minute' end)`,
    [id, uniqueIdentifier('stranded'), state, taskIdFor(id, 1)],
  );
  return id;
}

/**
 * Leaves each object's first job in the queue as `outcome` says, by running it once in a worker of
 * this test (before the service starts, so no worker of the service takes it): 'failed' jobs throw
 * the given message with no attempt left, 'completed' ones return without touching the object.
 */
async function settleJobs(prefix: string, jobs: { objectId: string; outcome: 'completed' | { failedWith: string } }[]): Promise<void> {
  const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', maxRetriesPerRequest: null };
  const queue = new Queue(OBJECTS_QUEUE, { connection, prefix });
  const outcomes = new Map(jobs.map((job) => [job.objectId, job.outcome]));
  let settled = 0;
  const done = new Promise<void>((resolve) => {
    const worker = new Worker<{ objectId: string }>(
      OBJECTS_QUEUE,
      (job) => {
        const outcome = outcomes.get(job.data.objectId);
        if (outcome !== 'completed') {
          return Promise.reject(new Error(outcome?.failedWith));
        }
        return Promise.resolve();
      },
      { connection, prefix },
    );
    const count = () => ++settled === jobs.length && void worker.close().then(resolve);
    worker.on('completed', count);
    worker.on('failed', count);
  });
  for (const { objectId } of jobs) {
    await queue.add(JobName.ProcessObject, { objectId }, { jobId: taskIdFor(objectId, 1), attempts: 1 });
  }
  await done;
  await queue.close();
}

describe('the queue reconciler', () => {
  let service: TestApp;
  const prefix = uniquePrefix();
  const objects: Record<string, string> = {};

  beforeAll(async () => {
    objects.queuedWithoutJob = await insertStranded('queued');
    objects.processingWithoutJob = await insertStranded('processing');
    objects.processingWithGivenUpJob = await insertStranded('processing');
    objects.processingWithStalledOutJob = await insertStranded('processing');
    objects.queuedWithCompletedJob = await insertStranded('queued');
    await settleJobs(prefix, [
      { objectId: objects.processingWithGivenUpJob, outcome: { failedWith: 'connect ECONNREFUSED 127.0.0.1:5432' } },
      { objectId: objects.processingWithStalledOutJob, outcome: { failedWith: 'job stalled more than allowable limit' } },
      { objectId: objects.queuedWithCompletedJob, outcome: 'completed' },
    ]);
    service = await startTestApp({ REDIS_PREFIX: prefix, RECONCILE_INTERVAL_MS: '300' });
  });

  afterAll(async () => {
    await service.close();
    await closeDatabase();
  });

  async function progressOnceSettled(id: string) {
    return waitFor(
      async () => {
        const response = await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200);
        const body = response.body as components['schemas']['ProgressResponse'];
        return ['completed', 'failed'].includes(body.state) && body;
      },
      // Generous: on a loaded machine the re-added job may wait several reconcile rounds and a worker poll.
      { what: `object ${id} to settle`, timeoutMs: 45_000 },
    );
  }

  it('adds the job of a queued object that never reached the queue, which is then processed', async () => {
    const progress = await progressOnceSettled(objects.queuedWithoutJob!);
    expect(progress.state).toBe('completed');
    expect(progress.operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
  });

  it('adds the job of a processing object whose job Redis lost, which then resumes and completes', async () => {
    expect((await progressOnceSettled(objects.processingWithoutJob!)).state).toBe('completed');
  });

  it('gives a processing object whose job is in the failed set a new job, and it completes', async () => {
    const id = objects.processingWithGivenUpJob;
    expect((await progressOnceSettled(id!)).state).toBe('completed');
    expect(await objectRow(id!)).toMatchObject({ task_id: taskIdFor(id!, 2), attempts: 2 });
  });

  it('gives a queued object whose job completed without running it a new job, and it completes', async () => {
    const id = objects.queuedWithCompletedJob;
    expect((await progressOnceSettled(id!)).state).toBe('completed');
    expect(await objectRow(id!)).toMatchObject({ task_id: taskIdFor(id!, 2) });
  });

  it('fails a processing object whose job stalled out, with a message saying so, and a retry completes it', async () => {
    const id = objects.processingWithStalledOutJob;
    const failed = await progressOnceSettled(id!);
    expect(failed.state).toBe('failed');
    expect(failed.error_message).toMatch(/worker stopped while running it too many times.*retry/);

    await request(service.baseUrl).post(`/api/v1/objects/${id}/retry`).expect(202);

    expect((await progressOnceSettled(id!)).state).toBe('completed');
  });
});

describe('the sweep over unsettled objects', () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await service.close();
  });

  it('visits every object once across batches, even objects created within the same millisecond', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [index, id] of ids.entries()) {
      await query(
        `insert into processing_objects (id, identifier, state, operations, plan, progress, task_id, attempts, created_at, updated_at)
         values ($1, $2, 'processing', '["validate"]', '["validate"]', '{"current":0,"total":1,"message":"Processing"}', $3, 1,
                 '2020-01-01 00:00:00.000100+00'::timestamptz + make_interval(secs => $4::int / 1000000.0), now())`,
        [id, uniqueIdentifier('sweep'), taskIdFor(id, 1), index * 100],
      );
    }
    const repository = service.app.get(ObjectsRepository);

    const visits = new Map<string, number>();
    let position: SweepPosition | null = null;
    for (;;) {
      const batch = await repository.findUnsettledAfter('processing', position, 1);
      if (batch.length === 0) {
        break;
      }
      for (const object of batch) {
        visits.set(object.id, (visits.get(object.id) ?? 0) + 1);
      }
      position = batch[batch.length - 1]!.position;
    }

    expect(ids.map((id) => visits.get(id))).toEqual([1, 1, 1]);
  });
});

describe('the global limit', () => {
  let service: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '2', GLOBAL_LIMIT_CHECK_INTERVAL_MS: '200' });
    redis = new Redis(service.config.redis.url);
  });

  afterAll(async () => {
    redis.disconnect();
    await service.close();
  });

  it('is set again after Redis lost it', async () => {
    const meta = `${service.config.redis.prefix}:${OBJECTS_QUEUE}:meta`;
    expect(await redis.hget(meta, 'concurrency')).toBe('2');

    await redis.hdel(meta, 'concurrency');

    await waitFor(async () => (await redis.hget(meta, 'concurrency')) === '2', { what: 'the global limit to be set again' });
  });
});
