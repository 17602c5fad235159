import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { IdempotencyKeysRepository } from '../src/processing/idempotency-keys.repository';
import { firstResponse } from '../src/processing/submission-response';
import { JobItem } from '../src/queue/jobs';
import type { components } from './support/api-types';
import { listS3Keys } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { countJobs, objectsQueueOf, waitUntilSettled } from './support/objects';
import { S3FaultProxy } from './support/s3-fault-proxy';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/** The 202 a submission answers with, and the body of a refusal. */
const submissionOf = (response: { body: unknown }) => response.body as components['schemas']['SubmissionResponseDto'];
const errorOf = (response: { body: unknown }) => response.body as components['schemas']['ErrorResponse'];

interface KeyRow extends Record<string, unknown> {
  key: string;
  object_id: string;
  response: Record<string, unknown>;
  expired: boolean;
}

async function keyRows(key: string): Promise<KeyRow[]> {
  return query<KeyRow>('select key, object_id, response, expires_at <= now() as expired from idempotency_keys where key = $1', [key]);
}

async function objectIdsWithIdentifier(identifier: string): Promise<string[]> {
  return (await query<{ id: string }>('select id from processing_objects where identifier = $1', [identifier])).map((row) => row.id);
}

function csv(rows: number): Buffer {
  return Buffer.from(['sku,qty', ...Array.from({ length: rows }, (_, index) => `sku-${index},${index}`)].join('\n'));
}

describe('Idempotency-Key: a key of its own', () => {
  let service: TestApp;
  let queue: Queue<JobItem['data']>;

  const api = (app: TestApp = service) => request(app.baseUrl);

  const jobsFor = async (objectId: string) =>
    (await queue.getJobs(['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'])).filter(
      (job) => job?.data?.objectId === objectId,
    );

  const upload = (key: string, identifier: string, bytes: Buffer, app: TestApp = service) =>
    api(app)
      .post('/api/v1/process')
      .set('Idempotency-Key', key)
      .field('identifier', identifier)
      .field('operations', 'validate')
      .attach('file', bytes, { filename: 'rows.csv', contentType: 'text/csv' });

  beforeAll(async () => {
    service = await startTestApp();
    queue = objectsQueueOf(service);
  });

  afterAll(async () => {
    await queue?.close();
    await service?.close();
    await closeDatabase();
  });

  describe('JSON submissions', () => {
    it('the same key and body (in any key order) return the first response; another identifier or body is 409 naming the first object, and leaves nothing behind', async () => {
      const key = randomUUID();
      const identifier = uniqueIdentifier('idem-json');
      const body = {
        identifier,
        operations: ['validate'],
        metadata: { team: 'crm', nested: { a: 1, b: [1, 2] } },
        payload: [{ sku: 'a', qty: 1 }],
      };
      const first = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);

      const reordered = {
        payload: [{ qty: 1, sku: 'a' }],
        metadata: { nested: { b: [1, 2], a: 1 }, team: 'crm' },
        operations: ['validate'],
        identifier,
      };
      const replay = await api().post('/api/v1/process').set('Idempotency-Key', key).send(reordered).expect(202);
      expect(replay.text).toBe(first.text);

      const otherIdentifier = uniqueIdentifier('idem-json-other');
      const jobsBefore = await countJobs(queue);
      const withOtherIdentifier = await api()
        .post('/api/v1/process')
        .set('Idempotency-Key', key)
        .send({ ...body, identifier: otherIdentifier })
        .expect(409);
      expectErrorShape(withOtherIdentifier.body, 409, 'idempotency_key_reused');
      expect(errorOf(withOtherIdentifier).details).toEqual({ id: submissionOf(first).id });

      const withOtherBody = await api()
        .post('/api/v1/process')
        .set('Idempotency-Key', key)
        .send({ ...body, metadata: { team: 'billing' } })
        .expect(409);
      expectErrorShape(withOtherBody.body, 409, 'idempotency_key_reused');
      expect(errorOf(withOtherBody).details).toEqual({ id: submissionOf(first).id });

      expect(await objectIdsWithIdentifier(otherIdentifier)).toEqual([]);
      expect(await listS3Keys(`${otherIdentifier}/`)).toEqual([]);
      expect(await countJobs(queue)).toBe(jobsBefore);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([submissionOf(first).id]);
      expect(await jobsFor(submissionOf(first).id)).toHaveLength(1);
      expect(await keyRows(key)).toEqual([{ key, object_id: submissionOf(first).id, response: submissionOf(first), expired: false }]);
      await waitUntilSettled(service.baseUrl, submissionOf(first).id);
    });

    it('20 identical requests sent at once: one object, one job, and every answer the same 202', async () => {
      const key = randomUUID();
      const identifier = uniqueIdentifier('idem-burst');
      const body = { identifier, operations: ['transform'], payload: [{ name: 'a', value: 1 }] };

      const responses = await Promise.all(
        Array.from({ length: 20 }, () => api().post('/api/v1/process').set('Idempotency-Key', key).send(body)),
      );

      expect(responses.map((response) => response.status)).toEqual(Array(20).fill(202));
      expect(new Set(responses.map((response) => response.text)).size).toBe(1);
      const first = submissionOf(responses[0]!);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([first.id]);
      expect(await jobsFor(first.id)).toHaveLength(1);
      expect(await keyRows(key)).toHaveLength(1);
      await waitUntilSettled(service.baseUrl, first.id);
    });

    it('20 requests with one key and different identifiers sent at once: one object, the others 409 naming it', async () => {
      const key = randomUUID();
      const identifiers = Array.from({ length: 20 }, () => uniqueIdentifier('idem-race'));

      const responses = await Promise.all(
        identifiers.map((identifier) =>
          api()
            .post('/api/v1/process')
            .set('Idempotency-Key', key)
            .send({ identifier, operations: ['validate'] }),
        ),
      );

      const accepted = responses.filter((response) => response.status === 202);
      expect(accepted).toHaveLength(1);
      const winner = submissionOf(accepted[0]!);
      for (const refused of responses.filter((response) => response.status !== 202)) {
        expectErrorShape(refused.body, 409, 'idempotency_key_reused');
        expect(errorOf(refused).details).toEqual({ id: winner.id });
      }
      const created = await query<{ id: string }>('select id from processing_objects where identifier = any($1)', [identifiers]);
      expect(created).toEqual([{ id: winner.id }]);
      await waitUntilSettled(service.baseUrl, winner.id);
    });

    it('deleting the object frees its key: the same request then creates a new object', async () => {
      const key = randomUUID();
      const body = { identifier: uniqueIdentifier('idem-deleted'), operations: ['validate'] };
      const first = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);
      await waitUntilSettled(service.baseUrl, submissionOf(first).id);
      await api()
        .delete(`/api/v1/objects/${submissionOf(first).id}`)
        .expect(204);
      expect(await keyRows(key)).toEqual([]);

      const again = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);
      expect(submissionOf(again).id).not.toBe(submissionOf(first).id);
      expect(await keyRows(key)).toMatchObject([{ object_id: submissionOf(again).id }]);
      await waitUntilSettled(service.baseUrl, submissionOf(again).id);
    });

    it('a key whose object was deleted before the key was kept is free', async () => {
      const key = randomUUID();
      const claim = await service.app.get(IdempotencyKeysRepository).claim('default', key);
      if ('response' in claim) {
        throw new Error('a fresh key must be claimed');
      }
      const deletedId = randomUUID();
      await claim.keep({ requestHash: 'a-hash', objectId: deletedId, response: firstResponse({ id: deletedId, identifier: 'deleted' }) });
      expect(await keyRows(key)).toEqual([]);
    });

    it('a key claimed by a submission whose process died is free once its claim lapses', async () => {
      const key = randomUUID();
      await query(`insert into idempotency_keys (key, claim_token, expires_at) values ($1, $2, now() + interval '1 second')`, [
        key,
        randomUUID(),
      ]);
      const body = { identifier: uniqueIdentifier('idem-orphan'), operations: ['validate'] };

      const submitted = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);

      expect(await keyRows(key)).toEqual([
        { key, object_id: submissionOf(submitted).id, response: submissionOf(submitted), expired: false },
      ]);
      await waitUntilSettled(service.baseUrl, submissionOf(submitted).id);
    });
  });

  describe('multipart submissions', () => {
    it('the same fields and file bytes return the first response; another file or identifier is 409 and stores nothing', async () => {
      const key = randomUUID();
      const identifier = uniqueIdentifier('idem-upload');
      const first = await upload(key, identifier, csv(20)).expect(202);

      const replay = await upload(key, identifier, csv(20)).expect(202);
      expect(replay.text).toBe(first.text);

      const otherFile = await upload(key, identifier, csv(21)).expect(409);
      expectErrorShape(otherFile.body, 409, 'idempotency_key_reused');
      expect(errorOf(otherFile).details).toEqual({ id: submissionOf(first).id });

      const otherIdentifier = uniqueIdentifier('idem-upload-other');
      const withOtherIdentifier = await upload(key, otherIdentifier, csv(20)).expect(409);
      expectErrorShape(withOtherIdentifier.body, 409, 'idempotency_key_reused');
      expect(errorOf(withOtherIdentifier).details).toEqual({ id: submissionOf(first).id });

      expect(await objectIdsWithIdentifier(otherIdentifier)).toEqual([]);
      expect(await listS3Keys(`${otherIdentifier}/`)).toEqual([]);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([submissionOf(first).id]);
      expect(await listS3Keys(`${identifier}/source/`)).toEqual([`${identifier}/source/upload.csv`]);
      await waitUntilSettled(service.baseUrl, submissionOf(first).id);
    });

    it('identical uploads sent at once: one object, one stored file, every answer the same 202', async () => {
      const key = randomUUID();
      const identifier = uniqueIdentifier('idem-upload-burst');

      const responses = await Promise.all(Array.from({ length: 10 }, () => upload(key, identifier, csv(40))));

      expect(responses.map((response) => response.status)).toEqual(Array(10).fill(202));
      expect(new Set(responses.map((response) => response.text)).size).toBe(1);
      const first = submissionOf(responses[0]!);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([first.id]);
      expect(await listS3Keys(`${identifier}/source/`)).toEqual([`${identifier}/source/upload.csv`]);
      await waitUntilSettled(service.baseUrl, first.id);
    });
  });

  describe('a key is kept for IDEMPOTENCY_KEY_TTL_SECONDS', () => {
    let shortLived: TestApp;

    beforeAll(async () => {
      shortLived = await startTestApp({ IDEMPOTENCY_KEY_TTL_SECONDS: '1' });
    });

    afterAll(async () => {
      await shortLived?.close();
    });

    it('then it is free: the key can be used for a new request', async () => {
      const key = randomUUID();
      const first = await api(shortLived)
        .post('/api/v1/process')
        .set('Idempotency-Key', key)
        .send({ identifier: uniqueIdentifier('idem-ttl'), operations: ['validate'] })
        .expect(202);
      await waitUntilExpired(key);

      const second = await api(shortLived)
        .post('/api/v1/process')
        .set('Idempotency-Key', key)
        .send({ identifier: uniqueIdentifier('idem-ttl-next'), operations: ['validate'] })
        .expect(202);
      expect(submissionOf(second).id).not.toBe(submissionOf(first).id);
      expect(await keyRows(key)).toEqual([{ key, object_id: submissionOf(second).id, response: submissionOf(second), expired: false }]);
      await waitUntilSettled(shortLived.baseUrl, submissionOf(first).id);
      await waitUntilSettled(shortLived.baseUrl, submissionOf(second).id);
    });

    async function waitUntilExpired(key: string): Promise<void> {
      while (!(await keyRows(key))[0]?.expired) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });

  describe('a submission that failed', () => {
    let stoppedS3: S3FaultProxy;
    let withoutS3: TestApp;

    beforeAll(async () => {
      stoppedS3 = await S3FaultProxy.start(process.env.S3_ENDPOINT!);
      // Every payload goes to S3 (none is kept inline), so that S3 being down fails a JSON submission too.
      withoutS3 = await startTestApp({ S3_ENDPOINT: stoppedS3.endpoint, PAYLOAD_INLINE_MAX_BYTES: '0' });
      await stoppedS3.close();
    });

    afterAll(async () => {
      await withoutS3?.close();
    });

    it('with S3 stopped (503) frees its key: a retry with the same key and body succeeds', async () => {
      const key = randomUUID();
      const body = { identifier: uniqueIdentifier('idem-s3-down'), operations: ['validate'], payload: { rows: [1, 2, 3] } };
      const failed = await api(withoutS3).post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(503);
      expectErrorShape(failed.body, 503, 'dependency_unavailable');
      expect(await keyRows(key)).toEqual([]);
      expect(await objectIdsWithIdentifier(body.identifier)).toEqual([]);

      const retried = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);
      expect(await keyRows(key)).toMatchObject([{ object_id: submissionOf(retried).id }]);
      await waitUntilSettled(service.baseUrl, submissionOf(retried).id);
    });

    it('an upload with S3 stopped (503) frees its key: a retry with the same key and file succeeds', async () => {
      const key = randomUUID();
      const identifier = uniqueIdentifier('idem-upload-s3-down');
      const failed = await upload(key, identifier, csv(30), withoutS3).expect(503);
      expectErrorShape(failed.body, 503, 'dependency_unavailable');
      expect(await keyRows(key)).toEqual([]);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([]);

      const retried = await upload(key, identifier, csv(30)).expect(202);
      expect(await objectIdsWithIdentifier(identifier)).toEqual([submissionOf(retried).id]);
      await waitUntilSettled(service.baseUrl, submissionOf(retried).id);
    });
  });

  it('the API document offers no example key, so "Try it out" sends none unless one is typed in', async () => {
    const document = (await api().get('/docs/json').expect(200)).body as {
      paths: { '/api/v1/process': { post: { parameters: { name: string; schema?: object }[] } } };
    };
    const parameter = document.paths['/api/v1/process'].post.parameters.find(
      (candidate) => candidate.name.toLowerCase() === 'idempotency-key',
    );
    expect(parameter).toMatchObject({ in: 'header', required: false });
    expect(parameter).not.toHaveProperty('example');
    expect(parameter).not.toHaveProperty('examples');
    expect(parameter?.schema ?? {}).not.toHaveProperty('example');
  });
});
