import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import type { ArtifactsResponse, ObjectListResponse, ObjectResponse, ProgressResponse } from '../src/objects/dto/object.responses';
import { createS3Client } from '../src/storage/s3-client.factory';
import { listS3Keys, readS3, readS3Json } from './support/artifacts';
import { closeDatabase, objectRow, query } from './support/database';
import { objectsQueueOf } from './support/objects';
import { freePort } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { S3FaultProxy, accessDeniedTo } from './support/s3-fault-proxy';
import { waitFor } from './support/wait-for';
import type { components } from './support/api-types';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLocalS3 } = require('../scripts/local-s3') as {
  startLocalS3: (options: { directory: string; port?: number }) => Promise<LocalS3>;
};

interface LocalS3 {
  endpoint: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

const FULL_PLAN = ['validate', 'transform', 'enrich', 'analyze'];
const SLOW_DELAY_MS = 1500;

const api = (service: TestApp) => request(service.baseUrl);

async function submit(service: TestApp, body: Record<string, unknown>): Promise<{ id: string; identifier: string; task_id: string }> {
  return (await api(service).post('/api/v1/process').send(body).expect(202)).body as { id: string; identifier: string; task_id: string };
}

async function progressOf(service: TestApp, id: string): Promise<ProgressResponse> {
  return (await api(service).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
}

async function objectOf(service: TestApp, identifier: string): Promise<ObjectResponse> {
  return (await api(service).get(`/api/v1/objects/${identifier}`).expect(200)).body as ObjectResponse;
}

async function statusOf(service: TestApp): Promise<{ queue_size: number; active_workers: number; max_workers: number }> {
  return (await api(service).get('/api/v1/status').expect(200)).body as { queue_size: number; active_workers: number; max_workers: number };
}

async function waitForState(service: TestApp, id: string, states: string[], timeoutMs = 45_000): Promise<ProgressResponse> {
  return waitFor(
    async () => {
      const progress = await progressOf(service, id);
      return states.includes(progress.state) && progress;
    },
    { timeoutMs, what: `object ${id} to reach ${states.join(' or ')}` },
  );
}

async function waitForOperation(service: TestApp, id: string, operation: string, timeoutMs = 30_000): Promise<ProgressResponse> {
  return waitFor(
    async () => {
      const progress = await progressOf(service, id);
      if (['completed', 'failed', 'cancelled'].includes(progress.state)) {
        throw new Error(`object settled as ${progress.state} before ${operation} started`);
      }
      return progress.state === 'processing' && progress.current_operation === operation && progress;
    },
    { timeoutMs, what: `object ${id} to be running ${operation}` },
  );
}

async function waitForIdleWorker(service: TestApp): Promise<void> {
  await waitFor(
    async () => {
      const status = await statusOf(service);
      return status.active_workers === 0 && status.queue_size === 0;
    },
    { timeoutMs: 30_000, what: 'the worker to be idle' },
  );
}

/** A BullMQ handle on an app's own queue, to see which jobs exist. */
const queues: Queue[] = [];
function queueOf(service: TestApp): Queue {
  const queue = objectsQueueOf(service);
  queues.push(queue);
  return queue;
}

/** Reads from the S3 endpoint an app is configured with (the dedicated s3rver tests use their own). */
function s3Of(service: TestApp) {
  const client = createS3Client(service.config.s3);
  return {
    async read(s3Url: string): Promise<Buffer> {
      const key = s3Url.replace(`s3://${service.config.s3.bucket}/`, '');
      const response = await client.send(new GetObjectCommand({ Bucket: service.config.s3.bucket, Key: key }));
      return Buffer.from(await response.Body!.transformToByteArray());
    },
    async keys(prefix: string): Promise<string[]> {
      const response = await client.send(new ListObjectsV2Command({ Bucket: service.config.s3.bucket, Prefix: prefix }));
      return (response.Contents ?? []).map((entry) => entry.Key!).sort();
    },
    close: () => client.destroy(),
  };
}

describe('object lifecycle: cancel, retry, delete, list, status, artifacts', () => {
  let fast: TestApp;
  let slow: TestApp;

  beforeAll(async () => {
    fast = await startTestApp({ MAX_PARALLEL_WORKERS: '2' });
    slow = await startTestApp({ MAX_PARALLEL_WORKERS: '1', SIMULATED_OPERATION_DELAY_MS: String(SLOW_DELAY_MS) });
  });

  afterAll(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    await slow?.close();
    await fast?.close();
    await closeDatabase();
  });

  /** Keeps the slow app's only worker busy with a long object while `work` runs, then cancels it. */
  async function withBusyWorker(work: (blocker: { id: string; identifier: string }) => Promise<void>): Promise<void> {
    const blocker = await submit(slow, { identifier: uniqueIdentifier('blocker'), operations: ['analyze'] });
    await waitForState(slow, blocker.id, ['processing']);
    try {
      await work(blocker);
    } finally {
      await api(slow).post(`/api/v1/objects/${blocker.id}/cancel`);
      await waitForIdleWorker(slow);
    }
  }

  describe('cancel', () => {
    it('cancels a queued object at once, removes its job, and it never runs', async () => {
      const queue = queueOf(slow);
      let queued!: { id: string; identifier: string; task_id: string };
      await withBusyWorker(async () => {
        queued = await submit(slow, { identifier: uniqueIdentifier('cancel-queued'), operations: ['transform'] });
        expect((await progressOf(slow, queued.id)).state).toBe('queued');
        expect(await queue.getJob(queued.task_id)).toBeDefined();
        const busy = await statusOf(slow);
        expect(busy).toMatchObject({ queue_size: 1, active_workers: 1, max_workers: 1 });

        const cancelled = await api(slow).post(`/api/v1/objects/${queued.id}/cancel`).expect(200);
        expect(cancelled.body).toMatchObject({ id: queued.id, state: 'cancelled', current_operation: null, error_message: null });

        expect(await queue.getJob(queued.task_id)).toBeUndefined();
        expect((await statusOf(slow)).queue_size).toBe(0);
      });

      // The worker is free now; a job left behind would have been picked up.
      const row = await objectRow(queued.id);
      expect(row).toMatchObject({ state: 'cancelled', started_at: null, current_operation: null, operations_status: {} });
      expect(row!.finished_at).not.toBeNull();
      const progress = await progressOf(slow, queued.id);
      expect(Object.values(progress.operations_status).every((status) => status.started_at === null && status.attempts === 0)).toBe(true);
      expect(await listS3Keys(`${queued.identifier}/`)).toEqual([]);
    });

    it('cancels a processing object cooperatively: the running operation stops and nothing after it runs', async () => {
      const { id, identifier } = await submit(slow, { identifier: uniqueIdentifier('cancel-running'), operations: ['analyze'] });
      const running = await waitForOperation(slow, id, 'transform');
      expect(running.operations_status.validate!.completed).toBe(true);

      const cancelled = (await api(slow).post(`/api/v1/objects/${id}/cancel`).expect(200)).body as ObjectResponse;
      expect(cancelled).toMatchObject({ id, state: 'cancelled', current_operation: null });
      expect(cancelled.plan.filter((operation) => cancelled.operations_status[operation]!.started_at !== null)).toEqual([
        'validate',
        'transform',
      ]);

      // The job ends, and for longer than an operation's delay nothing else starts.
      await waitForIdleWorker(slow);
      await sleep(SLOW_DELAY_MS * 2);

      const after = await progressOf(slow, id);
      expect(after.state).toBe('cancelled');
      expect(after.current_operation).toBeNull();
      expect(after.operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
      expect(after.operations_status.transform).toMatchObject({ completed: false, finished_at: null, s3_url: null });
      for (const operation of ['enrich', 'analyze']) {
        expect(after.operations_status[operation]).toMatchObject({ completed: false, started_at: null, attempts: 0 });
      }
      expect(after.s3_artifacts).toEqual({ validate: `s3://${slow.config.s3.bucket}/${identifier}/validate_result.json` });
      expect(await listS3Keys(`${identifier}/`)).toEqual([`${identifier}/validate_result.json`]);
      expect(await objectRow(id)).toMatchObject({ state: 'cancelled', current_operation: null });

      const artifacts = (await api(slow).get(`/api/v1/objects/${id}/artifacts`).expect(200)).body as ArtifactsResponse;
      expect(artifacts.state).toBe('cancelled');
      expect(artifacts.artifacts.map((artifact) => artifact.operation)).toEqual(['validate']);
      expect(await readS3Json(artifacts.artifacts[0]!.s3_url)).toMatchObject({ valid: true });
    });

    it('refuses to cancel a completed object with 409 naming both states', async () => {
      const { id } = await submit(fast, { identifier: uniqueIdentifier('cancel-done'), operations: ['validate'] });
      await waitForState(fast, id, ['completed']);
      const response = await api(fast).post(`/api/v1/objects/${id}/cancel`).expect(409);
      expect(response.body).toMatchObject({
        statusCode: 409,
        code: 'invalid_transition',
        details: { current_state: 'completed', attempted_state: 'cancelled' },
      });
      expect((await progressOf(fast, id)).state).toBe('completed');
    });

    it('answers 404 for an unknown object and 400 for a malformed id', async () => {
      expect(
        (
          (await api(fast).post('/api/v1/objects/6f1c1f5e-8a57-4f38-9a59-0d9e5c0f0a11/cancel').expect(404))
            .body as components['schemas']['ErrorResponse']
        ).code,
      ).toBe('object_not_found');
      expect(
        ((await api(fast).post('/api/v1/objects/not-a-uuid/cancel').expect(400)).body as components['schemas']['ErrorResponse']).code,
      ).toBe('validation_failed');
    });
  });

  describe('retry', () => {
    it('refuses to retry a completed object', async () => {
      const { id } = await submit(fast, { identifier: uniqueIdentifier('retry-done'), operations: ['validate'] });
      await waitForState(fast, id, ['completed']);
      const response = await api(fast).post(`/api/v1/objects/${id}/retry`).expect(409);
      expect(response.body).toMatchObject({
        code: 'invalid_transition',
        details: { current_state: 'completed', attempted_state: 'queued' },
      });
    });

    it('fails invalid content at once, saying where, without retrying it', async () => {
      const { id, identifier, task_id } = await submit(fast, {
        identifier: uniqueIdentifier('schema-mismatch'),
        operations: ['analyze'],
        payload: [
          { name: 'a', count: 1 },
          { name: 'b', count: 'two' },
        ],
        options: {
          validate: {
            json_schema: {
              type: 'array',
              items: { type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer' } }, required: ['name', 'count'] },
            },
          },
        },
      });
      const failed = await waitForState(fast, id, ['failed', 'completed']);
      expect(failed.state).toBe('failed');
      expect(failed.error_message).toContain('/1/count');
      expect(failed.operations_status.validate).toMatchObject({
        completed: false,
        attempts: 1,
        error: expect.stringContaining('/1/count') as unknown,
      });
      expect(failed.operations_status.transform).toMatchObject({ started_at: null, attempts: 0 });
      expect(Object.keys(failed.s3_artifacts)).toEqual([]);

      // The queue does not try it again: its job finished instead of waiting for a backoff. The object is recorded
      // failed before its worker hands the job back, so the job may still be active for a moment.
      const settledJobState = await waitFor(
        async () => {
          const state = await queueOf(fast).getJobState(task_id);
          return state !== 'active' && state;
        },
        { timeoutMs: 10_000, intervalMs: 20, what: `job ${task_id} to leave the active state` },
      );
      expect(settledJobState).toBe('completed');
      expect((await queueOf(fast).getJob(task_id))!.attemptsMade).toBe(1);
      expect((await objectOf(fast, identifier)).attempts).toBe(1);
      expect((await progressOf(fast, id)).operations_status.validate!.attempts).toBe(1);
    });

    describe('after S3 refused an operation (not an outage: attempts are spent)', () => {
      const DELAY_MS = 1000;
      let proxy: S3FaultProxy;
      let once: TestApp;
      let thrice: TestApp;

      beforeAll(async () => {
        proxy = await S3FaultProxy.start(process.env.S3_ENDPOINT!);
        const common = { S3_ENDPOINT: proxy.endpoint, SIMULATED_OPERATION_DELAY_MS: String(DELAY_MS), MAX_PARALLEL_WORKERS: '1' };
        once = await startTestApp({ ...common, JOB_ATTEMPTS: '1' });
        thrice = await startTestApp({ ...common, JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '1000' });
      });

      afterAll(async () => {
        await thrice?.close();
        await once?.close();
        await proxy?.close();
      });

      afterEach(() => {
        proxy.fault = undefined;
      });

      /** Submits a payload object whose transform S3 refuses (every request for its files); returns once transform runs. */
      async function submitAndRefuseS3(service: TestApp, label: string) {
        const payload = [
          { sku: 'a-1', qty: 3 },
          { sku: 'b-2', qty: 5 },
        ];
        const identifier = uniqueIdentifier(label);
        proxy.fault = accessDeniedTo(identifier, 'transform');
        const submitted = await submit(service, { identifier, operations: ['analyze'], payload });
        const running = await waitForOperation(service, submitted.id, 'transform');
        return { ...submitted, payload, validateBefore: running.operations_status.validate };
      }

      it('ends failed with a message, and a retry resumes after the completed operations', async () => {
        const { id, identifier, validateBefore } = await submitAndRefuseS3(once, 'refused-retry');
        const failed = await waitForState(once, id, ['failed', 'completed']);
        expect(failed.state).toBe('failed');
        expect(failed.error_message).toBe('transform failed after 1 attempt(s): Access Denied');
        expect(failed.operations_status.validate).toEqual(validateBefore);
        expect(failed.operations_status.transform).toMatchObject({ completed: false, attempts: 1, error: expect.any(String) as unknown });

        proxy.fault = undefined;
        const retried = await api(once).post(`/api/v1/objects/${id}/retry`).expect(202);
        // The idle worker may have taken it by the time the answer is read back.
        expect(retried.body).toMatchObject({
          id,
          state: expect.stringMatching(/^(queued|processing)$/) as unknown,
          error_message: null,
          attempts: 2,
          task_id: `${id}.2`,
        });

        const done = await waitForState(once, id, ['completed', 'failed']);
        expect(done.state).toBe('completed');
        expect(done.error_message).toBeNull();
        expect(done.operations_status.validate).toEqual(validateBefore);
        expect(done.operations_status.validate!.attempts).toBe(1);
        expect(done.operations_status.transform).toMatchObject({ completed: true, attempts: 2, error: null });
        for (const operation of ['enrich', 'analyze']) {
          expect(done.operations_status[operation]).toMatchObject({ completed: true, attempts: 1 });
          expect(Date.parse(done.operations_status[operation]!.started_at!)).toBeGreaterThan(
            Date.parse(failed.operations_status.transform!.finished_at!),
          );
        }
        const storage = s3Of(once);
        try {
          expect(await storage.keys(`${identifier}/`)).toEqual(
            [...FULL_PLAN.map((operation) => `${identifier}/${operation}_result.json`), `${identifier}/transform/records.ndjson`].sort(),
          );
          const analysis: unknown = JSON.parse((await storage.read(done.s3_artifacts.analyze!)).toString('utf8'));
          expect(analysis).toMatchObject({ record_count: 2 });
        } finally {
          storage.close();
        }
      });

      it('reruns every operation on ?from_scratch=true', async () => {
        const { id, validateBefore } = await submitAndRefuseS3(once, 'refused-scratch');
        expect((await waitForState(once, id, ['failed', 'completed'])).state).toBe('failed');
        proxy.fault = undefined;

        await api(once).post(`/api/v1/objects/${id}/retry?from_scratch=maybe`).expect(400);
        const retried = await api(once).post(`/api/v1/objects/${id}/retry?from_scratch=true`).expect(202);
        // The idle worker may have taken it by the time the answer is read back.
        expect(retried.body).toMatchObject({ state: expect.stringMatching(/^(queued|processing)$/) as unknown, attempts: 2 });

        const done = await waitForState(once, id, ['completed', 'failed']);
        expect(done.state).toBe('completed');
        expect(done.operations_status.validate!.completed).toBe(true);
        expect(Date.parse(done.operations_status.validate!.started_at!)).toBeGreaterThan(Date.parse(validateBefore!.finished_at!));
        for (const operation of FULL_PLAN) {
          expect(done.operations_status[operation]).toMatchObject({ completed: true, error: null });
        }
        // A scratch run starts the operations' records afresh, so each counts one attempt of this run.
        expect(done.operations_status.validate!.attempts).toBe(1);
        expect(done.operations_status.transform!.attempts).toBe(1);
      });

      it('resumes by itself when S3 serves again before the job runs out of attempts', async () => {
        const { id, identifier, task_id, validateBefore } = await submitAndRefuseS3(thrice, 'refused-backoff');
        await waitFor(
          async () => {
            const progress = await progressOf(thrice, id);
            return progress.state === 'processing' && progress.operations_status.transform!.error !== null && progress;
          },
          { timeoutMs: 30_000, what: 'the first transform attempt to fail' },
        );
        proxy.fault = undefined;

        const done = await waitForState(thrice, id, ['completed', 'failed'], 60_000);
        expect(done.state).toBe('completed');
        expect(done.error_message).toBeNull();
        expect(done.operations_status.validate).toEqual(validateBefore);
        expect(done.operations_status.transform!.completed).toBe(true);
        expect(done.operations_status.transform!.attempts).toBeGreaterThanOrEqual(2);
        expect(done.operations_status.enrich!.attempts).toBe(1);
        expect(done.operations_status.analyze!.attempts).toBe(1);
        const object = await objectOf(thrice, identifier);
        expect(object).toMatchObject({ attempts: 1, task_id });
      }, 90_000);
    });

    describe('while S3 is down (an outage: the job waits without spending attempts)', () => {
      let directory: string;
      let port: number;
      let s3: LocalS3 | undefined;
      let once: TestApp;

      beforeAll(async () => {
        directory = mkdtempSync(join(tmpdir(), 'ops-s3-lifecycle-'));
        port = await freePort();
        s3 = await startLocalS3({ directory, port });
        once = await startTestApp({
          ...s3.env,
          SIMULATED_OPERATION_DELAY_MS: '1000',
          MAX_PARALLEL_WORKERS: '1',
          JOB_ATTEMPTS: '1',
          DEPENDENCY_RETRY_MS: '200',
        });
      });

      afterAll(async () => {
        await once?.close();
        await s3?.stop();
        rmSync(directory, { recursive: true, force: true });
      });

      it('keeps the object processing through an outage longer than its attempts would last, then completes it', async () => {
        const payload = [{ sku: 'a-1', qty: 3 }];
        const { id, identifier } = await submit(once, { identifier: uniqueIdentifier('outage'), operations: ['analyze'], payload });
        await waitForOperation(once, id, 'transform');
        await s3!.stop();
        // With one attempt, the old behaviour failed the object within a second or two of the outage.
        await sleep(4000);
        const during = await progressOf(once, id);
        expect(during.state).toBe('processing');
        expect(((await api(once).get('/health/ready').expect(503)).body as components['schemas']['ErrorResponse']).code).toBe('not_ready');

        s3 = await startLocalS3({ directory, port });
        const done = await waitForState(once, id, ['completed', 'failed'], 30_000);
        expect(done.state).toBe('completed');
        expect(done.error_message).toBeNull();
        for (const operation of FULL_PLAN) {
          expect(done.operations_status[operation]).toMatchObject({ completed: true, error: null });
        }
        expect(await objectOf(once, identifier)).toMatchObject({ attempts: 1 });
        const storage = s3Of(once);
        try {
          // A result per operation and transform's records; the payload is kept with the object.
          expect(await storage.keys(`${identifier}/`)).toHaveLength(FULL_PLAN.length + 1);
        } finally {
          storage.close();
        }
      }, 60_000);
    });
  });

  describe('delete', () => {
    it('deletes a completed object, its row and every artifact', async () => {
      const { id, identifier } = await submit(fast, {
        identifier: uniqueIdentifier('delete-done'),
        operations: ['transform'],
        payload: { a: 1 },
      });
      await waitForState(fast, id, ['completed']);
      // validate's and transform's results and transform's records (the payload is kept with the object).
      expect((await listS3Keys(`${identifier}/`)).length).toBe(3);

      await api(fast).delete(`/api/v1/objects/${id}`).expect(204);

      expect(await objectRow(id)).toBeUndefined();
      expect(await listS3Keys(`${identifier}/`)).toEqual([]);
      expect(((await api(fast).get(`/api/v1/progress/${id}`).expect(404)).body as components['schemas']['ErrorResponse']).code).toBe(
        'object_not_found',
      );
      await api(fast).get(`/api/v1/objects/${identifier}`).expect(404);
      await api(fast).delete(`/api/v1/objects/${id}`).expect(404);
    });

    it('deletes a queued object with its job, and refuses to delete a processing one', async () => {
      const queue = queueOf(slow);
      await withBusyWorker(async (blocker) => {
        const busy = await api(slow).delete(`/api/v1/objects/${blocker.id}`).expect(409);
        expect(busy.body).toMatchObject({ statusCode: 409, code: 'object_busy' });
        expect((await progressOf(slow, blocker.id)).state).toBe('processing');

        const queued = await submit(slow, { identifier: uniqueIdentifier('delete-queued'), operations: ['validate'], payload: [1, 2] });
        expect(await queue.getJob(queued.task_id)).toBeDefined();
        // Its small payload is kept with it, not in S3.
        expect(await listS3Keys(`${queued.identifier}/`)).toEqual([]);

        await api(slow).delete(`/api/v1/objects/${queued.id}`).expect(204);

        expect(await objectRow(queued.id)).toBeUndefined();
        expect(await queue.getJob(queued.task_id)).toBeUndefined();
        expect(await listS3Keys(`${queued.identifier}/`)).toEqual([]);
        expect((await statusOf(slow)).queue_size).toBe(0);
      });
    });

    it('answers 404 for an unknown object', async () => {
      const response = await api(fast).delete('/api/v1/objects/0b7e9f3a-3c1d-4a4e-9f57-2f1d7d0b9c11').expect(404);
      expect(response.body).toMatchObject({ statusCode: 404, code: 'object_not_found' });
    });
  });

  describe('list', () => {
    const prefix = uniqueIdentifier('list');
    const created: { id: string; identifier: string; exports: boolean; fails: boolean }[] = [];
    let all: ObjectResponse[];

    beforeAll(async () => {
      const kinds = [
        { exports: true, fails: false },
        { exports: false, fails: false },
        { exports: false, fails: true },
        { exports: true, fails: false },
        { exports: false, fails: false },
      ];
      for (const [index, kind] of kinds.entries()) {
        const identifier = `${prefix}-${index}`;
        const { id } = await submit(fast, {
          identifier,
          operations: kind.exports ? ['export'] : ['validate'],
          payload: [{ n: index }],
          ...(kind.fails ? { options: { validate: { json_schema: { type: 'object' } } } } : {}),
        });
        created.push({ id, identifier, ...kind });
        await sleep(5); // distinct creation times, so "newest first" has one answer
      }
      for (const object of created) {
        await waitForState(fast, object.id, ['completed', 'failed']);
      }
      all = (
        (await api(fast).get('/api/v1/objects').query({ identifier_prefix: prefix, limit: 100 }).expect(200)).body as ObjectListResponse
      ).items;
    });

    const identifiersOf = (items: ObjectResponse[]) => items.map((item) => item.identifier);
    const list = async (query: Record<string, string | number>) =>
      (
        await api(fast)
          .get('/api/v1/objects')
          .query({ identifier_prefix: prefix, ...query })
          .expect(200)
      ).body as ObjectListResponse;

    it('filters by identifier prefix, newest first', async () => {
      expect(identifiersOf(all)).toEqual(created.map((object) => object.identifier).reverse());
      expect(all[0]).toMatchObject({ id: created[4]!.id, state: 'completed', plan: ['validate'] });
      const createdAt = all.map((item) => Date.parse(item.created_at));
      expect([...createdAt].sort((a, b) => b - a)).toEqual(createdAt);
      expect((await list({ identifier_prefix: `${prefix}-3` })).items.map((item) => item.id)).toEqual([created[3]!.id]);
      expect((await list({ identifier_prefix: `${prefix}x` })).items).toEqual([]);
    });

    it('filters by state and by operation', async () => {
      expect(identifiersOf((await list({ state: 'failed' })).items)).toEqual([created[2]!.identifier]);
      expect(identifiersOf((await list({ state: 'completed' })).items)).toEqual(
        created
          .filter((object) => !object.fails)
          .map((object) => object.identifier)
          .reverse(),
      );
      expect((await list({ state: 'processing' })).items).toEqual([]);
      expect(identifiersOf((await list({ operation: 'export' })).items)).toEqual(
        created
          .filter((object) => object.exports)
          .map((object) => object.identifier)
          .reverse(),
      );
      expect(identifiersOf((await list({ operation: 'analyze' })).items)).toEqual(
        created
          .filter((object) => object.exports)
          .map((object) => object.identifier)
          .reverse(),
      );
      expect(identifiersOf((await list({ operation: 'validate' })).items)).toEqual(identifiersOf(all));
      expect((await list({ operation: 'thumbnail' })).items).toEqual([]);
    });

    it('filters by creation time: created_after is inclusive, created_before exclusive', async () => {
      const middle = all[2];
      const after = await list({ created_after: middle!.created_at });
      const before = await list({ created_before: middle!.created_at });
      expect(identifiersOf(after.items)).toEqual(identifiersOf(all.slice(0, 3)));
      expect(identifiersOf(before.items)).toEqual(identifiersOf(all.slice(3)));
      const between = await list({ created_after: all[3]!.created_at, created_before: all[0]!.created_at });
      expect(identifiersOf(between.items)).toEqual(identifiersOf(all.slice(1, 4)));
    });

    it('pages through everything with limit=2 and next_cursor, without duplicates or gaps', async () => {
      const pages: ObjectListResponse[] = [];
      let cursor: string | null = null;
      do {
        const page: ObjectListResponse = await list(cursor ? { limit: 2, cursor } : { limit: 2 });
        pages.push(page);
        cursor = page.next_cursor;
      } while (cursor && pages.length < 10);
      expect(pages.map((page) => page.items.length)).toEqual([2, 2, 1]);
      expect(pages[2]!.next_cursor).toBeNull();
      expect(pages.flatMap((page) => page.items.map((item) => item.id))).toEqual(all.map((item) => item.id));

      const exports = await list({ operation: 'export', limit: 1 });
      expect(exports.items.map((item) => item.id)).toEqual([created[3]!.id]);
      const next = await list({ operation: 'export', limit: 1, cursor: exports.next_cursor! });
      expect(next.items.map((item) => item.id)).toEqual([created[0]!.id]);
      expect(next.next_cursor).toBeNull();
    });

    it('pages through objects created in the same millisecond by id, without duplicates or gaps', async () => {
      const tie = uniqueIdentifier('tie');
      const ids: string[] = [];
      for (const index of [0, 1, 2, 3]) {
        ids.push((await submit(fast, { identifier: `${tie}-${index}`, operations: ['validate'], payload: [{ n: index }] })).id);
      }
      for (const id of ids) {
        await waitForState(fast, id, ['completed']);
      }
      await query(`update processing_objects set created_at = '2026-01-01T00:00:00.000Z' where id = any($1::uuid[])`, [ids]);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const params = { identifier_prefix: tie, limit: 1, ...(cursor ? { cursor } : {}) };
        const page = (await api(fast).get('/api/v1/objects').query(params).expect(200)).body as ObjectListResponse;
        seen.push(...page.items.map((item) => item.id));
        cursor = page.next_cursor;
      } while (cursor && seen.length < 10);
      expect(seen).toEqual([...ids].sort().reverse());
    });

    it('rejects bad parameters with 400', async () => {
      const bad = async (query: Record<string, string | number>) =>
        (await api(fast).get('/api/v1/objects').query(query).expect(400)).body as { statusCode: number; code: string; message: string };
      expect(await bad({ limit: 101 })).toMatchObject({ statusCode: 400, code: 'validation_failed' });
      expect(await bad({ limit: 0 })).toMatchObject({ code: 'validation_failed' });
      expect(await bad({ cursor: 'not-a-cursor' })).toMatchObject({ code: 'validation_failed' });
      expect(await bad({ cursor: Buffer.from(JSON.stringify(['yesterday', 'x'])).toString('base64url') })).toMatchObject({
        code: 'validation_failed',
      });
      const unknownOperation = await bad({ operation: 'compress' });
      expect(unknownOperation.code).toBe('unknown_operation');
      expect(unknownOperation.message).toContain('export');
      expect(await bad({ state: 'done' })).toMatchObject({ code: 'validation_failed' });
      expect(await bad({ created_after: 'last week' })).toMatchObject({ code: 'validation_failed' });
      expect(await bad({ identifier_prefix: 'a/b' })).toMatchObject({ code: 'validation_failed' });
    });
  });

  describe('one object by identifier', () => {
    it('returns the object, 404 for an unknown identifier and 400 for an invalid one', async () => {
      const identifier = uniqueIdentifier('by-identifier');
      const { id, task_id } = await submit(fast, { identifier, operations: ['validate'], metadata: { team: 'qa' }, priority: 7 });
      await waitForState(fast, id, ['completed']);
      const object = await objectOf(fast, identifier);
      expect(object).toMatchObject({
        id,
        identifier,
        state: 'completed',
        operations: ['validate'],
        plan: ['validate'],
        task_id,
        metadata: { team: 'qa' },
        priority: 7,
        attempts: 1,
        source: null,
        error_message: null,
      });
      expect(object).toEqual({ ...object, ...(await progressOf(fast, id)) });

      expect(
        (
          (
            await api(fast)
              .get(`/api/v1/objects/${uniqueIdentifier('missing')}`)
              .expect(404)
          ).body as components['schemas']['ErrorResponse']
        ).code,
      ).toBe('object_not_found');

      const longest = uniqueIdentifier('longest').padEnd(200, 'x');
      const long = await submit(fast, { identifier: longest, operations: ['validate'] });
      expect((await objectOf(fast, longest)).id).toBe(long.id);
      await waitForState(fast, long.id, ['completed']);

      for (const invalid of ['.hidden', 'has%20space', 'a'.repeat(201), 'semi%3Bcolon']) {
        const response = await api(fast).get(`/api/v1/objects/${invalid}`).expect(400);
        expect(response.body).toMatchObject({ statusCode: 400, code: 'invalid_identifier' });
      }
    });
  });

  describe('status', () => {
    it('reports queue size, active workers and the configured maximum as numbers', async () => {
      await waitForIdleWorker(fast);
      const status = await statusOf(fast);
      expect(status).toMatchObject({ queue_size: 0, active_workers: 0, max_workers: 2 });
      expect(typeof status.queue_size).toBe('number');
      expect(typeof status.active_workers).toBe('number');
      expect((await statusOf(slow)).max_workers).toBe(1);
    });

    it('answers the progress of an id written in capitals with the id as stored', async () => {
      const { id, identifier } = await submit(fast, { identifier: uniqueIdentifier('capital-id'), operations: ['validate'] });
      const progress = await progressOf(fast, id.toUpperCase());
      expect(progress).toMatchObject({ id, identifier });
    });
  });

  describe('artifacts', () => {
    const payload = [
      { name: 'alpha', value: 1, ok: true },
      { name: 'beta, "quoted"', value: 2.5, ok: false },
      { name: 'gamma', value: -3, ok: true },
    ];

    async function exported(format: 'csv' | 'json') {
      const identifier = uniqueIdentifier(`artifacts-${format}`);
      const { id } = await submit(fast, { identifier, operations: ['export'], payload, options: { export: { format } } });
      const progress = await waitForState(fast, id, ['completed', 'failed']);
      expect(progress.state).toBe('completed');
      const response = (await api(fast).get(`/api/v1/objects/${id}/artifacts`).expect(200)).body as ArtifactsResponse;
      expect(response).toMatchObject({ id, identifier, state: 'completed' });
      return { identifier, response };
    }

    it('lists every artifact with a presigned URL that downloads exactly the stored bytes; CSV export matches the payload', async () => {
      const { identifier, response } = await exported('csv');
      const bucket = fast.config.s3.bucket;
      expect(response.artifacts.map((artifact) => artifact.s3_url).sort()).toEqual(
        [
          ...['validate', 'transform', 'enrich', 'analyze', 'export'].map((operation) => `${identifier}/${operation}_result.json`),
          `${identifier}/transform/records.ndjson`,
          `${identifier}/export/records.csv`,
        ]
          .map((key) => `s3://${bucket}/${key}`)
          .sort(),
      );
      expect((await listS3Keys(`${identifier}/`)).map((key) => `s3://${bucket}/${key}`)).toEqual(
        response.artifacts.map((artifact) => artifact.s3_url).sort(),
      );

      for (const artifact of response.artifacts) {
        expect(artifact.key).toBe(artifact.s3_url.replace(`s3://${bucket}/`, ''));
        expect(Date.parse(artifact.expires_at)).toBeGreaterThan(Date.now());
        const download = await fetch(artifact.url);
        expect(download.status).toBe(200);
        const bytes = Buffer.from(await download.arrayBuffer());
        expect(bytes.length).toBeGreaterThan(0);
        expect(bytes.equals(await readS3(artifact.s3_url))).toBe(true);
      }

      const csv = response.artifacts.find((artifact) => artifact.s3_url.endsWith('/export/records.csv'))!;
      expect(await (await fetch(csv.url)).text()).toBe('name,value,ok\nalpha,1,true\n"beta, ""quoted""",2.5,false\ngamma,-3,true\n');
      // The payload is kept with the object (it is small): not an artifact in S3, but the object still describes it.
      expect(response.artifacts.filter((artifact) => artifact.operation === 'source')).toEqual([]);
      const bytes = Buffer.from(JSON.stringify(payload));
      expect(((await api(fast).get(`/api/v1/objects/${identifier}`).expect(200)).body as ObjectResponse).source).toEqual({
        content_type: 'application/json',
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    });

    it('exports JSON that parses back to the payload records', async () => {
      const { response } = await exported('json');
      const file = response.artifacts.find((artifact) => artifact.s3_url.endsWith('/export/records.json'))!;
      expect(file.operation).toBe('export');
      const downloaded = await fetch(file.url);
      expect(JSON.parse(await downloaded.text())).toEqual(payload);
      const result: unknown = JSON.parse(
        (await readS3(response.artifacts.find((artifact) => artifact.key.endsWith('export_result.json'))!.s3_url)).toString('utf8'),
      );
      expect(result).toMatchObject({ format: 'json', file: file.s3_url });
    });

    it('answers 404 for the artifacts of an unknown object', async () => {
      expect(
        (
          (await api(fast).get('/api/v1/objects/3d8e5b1c-2f4a-4c6b-8e9d-1a2b3c4d5e6f/artifacts').expect(404))
            .body as components['schemas']['ErrorResponse']
        ).code,
      ).toBe('object_not_found');
    });
  });
});
