import { Redis } from 'ioredis';
import request from 'supertest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectResponse } from '../src/objects/dto/object.responses';
import { ProcessingQueue } from '../src/queue/processing-queue';
import { closeDatabase } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { ServiceProcess, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';

const PLAN = ['validate', 'transform', 'enrich', 'analyze'];
/** How long a worker that wrongly takes jobs while paused is given to show it: a window to look in, not a measured time. */
const LOOK_FOR_A_WRONG_START_MS = 1500;

describe('pausing and resuming the queue (POST /api/v1/queue/pause, /resume)', () => {
  let api: TestApp;
  let redis: Redis;
  const workers: ServiceProcess[] = [];

  const startWorker = async () => {
    const worker = spawnService({
      ...api.env,
      APP_ROLE: 'worker',
      LOG_LEVEL: 'log',
      SIMULATED_OPERATION_DELAY_MS: '700',
      GLOBAL_LIMIT_CHECK_INTERVAL_MS: '200',
    });
    workers.push(worker);
    await worker.waitForOutput(/Running as role 'worker'/);
    return worker;
  };
  const submit = async (operations: string[]) =>
    (
      await request(api.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('pause'), operations })
        .expect(202)
    ).body as { id: string };
  const objectOf = async (id: string) => (await request(api.baseUrl).get(`/api/v1/objects/${id}`).expect(200)).body as ObjectResponse;
  const waitForObject = (id: string, done: (object: ObjectResponse) => boolean, what: string) =>
    waitFor(
      async () => {
        const object = await objectOf(id);
        return done(object) && object;
      },
      { timeoutMs: 60_000, what },
    );
  const pause = (mode: string, reason: string) => request(api.baseUrl).post('/api/v1/queue/pause').send({ mode, reason });
  const statusOf = async () =>
    (await request(api.baseUrl).get('/api/v1/status').expect(200)).body as components['schemas']['StatusResponse'];
  const redisFlag = () => api.app.get(ProcessingQueue).isPaused();

  beforeAll(async () => {
    api = await startTestApp({ APP_ROLE: 'api', GLOBAL_LIMIT_CHECK_INTERVAL_MS: '200' });
    redis = new Redis(api.config.redis.url);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await request(api.baseUrl).post('/api/v1/queue/resume').expect(200);
    redis.disconnect();
    await api.close();
    await closeDatabase();
  });

  it('refuses a pause without a reason or with an unknown mode, in the one error shape, and pauses nothing', async () => {
    for (const body of [{ mode: 'drain' }, { mode: 'halt', reason: 'x' }, { mode: 'stop', reason: '' }]) {
      const refused = await request(api.baseUrl).post('/api/v1/queue/pause').send(body).expect(400);
      expectErrorShape(refused.body as Record<string, unknown>, 400, 'validation_failed');
    }
    expect((await statusOf()).pause).toEqual({
      paused: false,
      mode: null,
      reason: null,
      since: null,
      paused_by_key_id: null,
      paused_by_key_name: null,
    });
  });

  it('drain: the running object finishes and nothing new starts, through a worker killed and restarted and a Redis that lost the flag, until resumed', async () => {
    const first = await startWorker();
    const running = await submit(['analyze']);
    await waitForObject(running.id, (object) => object.operations_status.validate!.started_at !== null, 'the first operation to start');

    const paused = (await pause('drain', 'database maintenance').expect(200)).body as components['schemas']['QueuePauseResponse'];
    expect(paused).toMatchObject({
      paused: true,
      mode: 'drain',
      reason: 'database maintenance',
      paused_by_key_id: null,
      paused_by_key_name: 'open access',
    });
    const waiting = await submit(['validate']);

    const finished = await waitForObject(running.id, (object) => object.state === 'completed', 'the running object to finish');
    expect(PLAN.map((operation) => finished.operations_status[operation]!.attempts)).toEqual([1, 1, 1, 1]);
    expect((await objectOf(waiting.id)).state).toBe('queued');
    expect((await statusOf()).pause).toEqual(paused);

    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker();
    // As if Redis had restarted without its data: the processes set BullMQ's flag again from PostgreSQL.
    await redis.hdel(`${api.config.redis.prefix}:objects:meta`, 'paused');
    await waitFor(() => redisFlag(), { what: 'the pause flag to be set again in Redis' });
    await sleep(LOOK_FOR_A_WRONG_START_MS);
    expect((await objectOf(waiting.id)).state).toBe('queued');
    expect((await statusOf()).pause).toMatchObject({ paused: true, mode: 'drain', since: paused.since });

    expect((await request(api.baseUrl).post('/api/v1/queue/resume').expect(200)).body).toMatchObject({ paused: false, mode: null });
    expect(await redisFlag()).toBe(false);
    await waitForObject(waiting.id, (object) => object.state === 'completed', 'the waiting object to run after resume');
    expect((await statusOf()).pause.paused).toBe(false);
  }, 120_000);

  it('stop: the running object is handed back before its next operation, stays put through a worker restart, and resumes where it stopped', async () => {
    const worker = workers[workers.length - 1]!;
    const object = await submit(['analyze']);
    await waitForObject(object.id, (current) => current.operations_status.transform!.started_at !== null, 'transform to start');

    const drained = (await pause('drain', 'first a drain').expect(200)).body as components['schemas']['QueuePauseResponse'];
    const stopped = (await pause('stop', 'then a stop').expect(200)).body as components['schemas']['QueuePauseResponse'];
    expect(stopped).toMatchObject({ paused: true, mode: 'stop', reason: 'then a stop', since: drained.since });

    await worker.waitForOutput(new RegExp(`Object ${object.id} \\(job [^)]+\\): handed back to the queue`));
    const handedBack = await objectOf(object.id);
    expect(handedBack.state).toBe('processing');
    expect(handedBack.operations_status.transform).toMatchObject({ completed: true, attempts: 1 });
    expect(handedBack.operations_status.enrich!.started_at).toBeNull();

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    await startWorker();
    await sleep(LOOK_FOR_A_WRONG_START_MS);
    expect((await objectOf(object.id)).operations_status.enrich!.started_at).toBeNull();

    await request(api.baseUrl).post('/api/v1/queue/resume').expect(200);
    const done = await waitForObject(object.id, (current) => current.state === 'completed', 'the object to resume and complete');
    expect(PLAN.map((operation) => done.operations_status[operation]!.attempts)).toEqual([1, 1, 1, 1]);
    expect(done.operations_status.transform!.finished_at).toBe(handedBack.operations_status.transform!.finished_at);
    expect(done.attempts).toBe(1);
  }, 120_000);
});
