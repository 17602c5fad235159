import type { Queue } from 'bullmq';
import { createHash, randomUUID } from 'node:crypto';
import request from 'supertest';
import { ObjectResponse } from '../src/objects/dto/object.responses';
import { JobItem } from '../src/queue/jobs';
import type { components } from './support/api-types';
import { listS3Keys, readS3 } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { countJobs, objectsQueueOf, waitUntilSettled } from './support/objects';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/** The 202 a submission answers with, and the body of a refusal. */
const submissionOf = (response: { body: unknown }) => response.body as components['schemas']['SubmissionResponseDto'];
const errorOf = (response: { body: unknown }) => response.body as components['schemas']['ErrorResponse'];

const VALID_OPERATIONS = ['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail'];

async function rowsWithIdentifier(identifier: string): Promise<Record<string, unknown>[]> {
  return query('select * from processing_objects where identifier = $1', [identifier]);
}

async function totalRows(): Promise<number> {
  return Number((await query<{ count: string }>('select count(*) as count from processing_objects'))[0]!.count);
}

describe('submitting objects', () => {
  let service: TestApp;
  let smallLimitService: TestApp;
  let queue: Queue<JobItem['data']>;

  const api = () => request(service.baseUrl);

  const totalJobs = () => countJobs(queue);

  const jobsFor = async (objectId: string) =>
    (await queue.getJobs(['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'])).filter(
      (job) => job?.data?.objectId === objectId,
    );

  const settled = (id: string) => waitUntilSettled(service.baseUrl, id);

  /** What the service holds, so a refused request can be shown to have written nothing. */
  const footprint = async () => ({ rows: await totalRows(), keys: await listS3Keys(), jobs: await totalJobs() });

  beforeAll(async () => {
    service = await startTestApp();
    smallLimitService = await startTestApp({ PAYLOAD_LIMIT_BYTES: '2048', PAYLOAD_INLINE_MAX_BYTES: '64', APP_ROLE: 'api' });
    queue = objectsQueueOf(service);
  });

  afterAll(async () => {
    await queue?.close();
    await smallLimitService?.close();
    await service?.close();
    await closeDatabase();
  });

  describe('an identifier that is taken', () => {
    it('is 409 identifier_taken naming the existing object', async () => {
      const identifier = uniqueIdentifier('taken');
      const first = await api()
        .post('/api/v1/process')
        .send({ identifier, operations: ['validate'] })
        .expect(202);
      const existingId = submissionOf(first).id;

      const second = await api()
        .post('/api/v1/process')
        .send({ identifier, operations: ['transform'] })
        .expect(409);
      expectErrorShape(second.body, 409, 'identifier_taken');
      expect(errorOf(second).error).toBe('Conflict');
      expect(errorOf(second).message).toContain(existingId);
      expect(errorOf(second).details).toMatchObject({ id: existingId, identifier });

      const withOtherKey = await api()
        .post('/api/v1/process')
        .set('Idempotency-Key', randomUUID())
        .send({ identifier, operations: ['validate'] })
        .expect(409);
      expect(withOtherKey.body).toMatchObject({ code: 'identifier_taken', details: { id: existingId } });

      const rows = await rowsWithIdentifier(identifier);
      expect(rows.map((row) => row.id)).toEqual([existingId]);
      expect(rows[0]!.operations).toEqual(['validate']);
      await settled(existingId);
    });
  });

  describe('Idempotency-Key', () => {
    it('returns exactly the first response for the same key and body, and 409 for the same key with another body', async () => {
      const identifier = uniqueIdentifier('idem');
      const key = randomUUID();
      const body = {
        identifier,
        operations: ['validate', 'transform'],
        metadata: { team: 'crm', nested: { a: 1, b: [1, 2] } },
        priority: 7,
      };
      const first = await api().post('/api/v1/process').set('Idempotency-Key', key).send(body).expect(202);
      expect(first.body).toEqual({
        id: expect.any(String) as unknown,
        identifier,
        state: 'queued',
        task_id: expect.any(String) as unknown,
        message: 'Object queued for processing',
      });

      const reordered = {
        priority: 7,
        metadata: { nested: { b: [1, 2], a: 1 }, team: 'crm' },
        operations: ['validate', 'transform'],
        identifier,
      };
      const repeated = await api().post('/api/v1/process').set('Idempotency-Key', key).send(reordered).expect(202);
      expect(repeated.body).toEqual(first.body);

      const changed = await api()
        .post('/api/v1/process')
        .set('Idempotency-Key', key)
        .send({ ...body, metadata: { team: 'billing' } })
        .expect(409);
      expectErrorShape(changed.body, 409, 'idempotency_key_reused');

      const withoutKey = await api().post('/api/v1/process').send(body).expect(409);
      expect(withoutKey.body).toMatchObject({ code: 'identifier_taken', details: { id: submissionOf(first).id } });

      const rows = await rowsWithIdentifier(identifier);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        id: submissionOf(first).id,
        task_id: submissionOf(first).task_id,
        metadata: body.metadata,
        priority: 7,
      });
      expect(await jobsFor(submissionOf(first).id)).toHaveLength(1);
      await settled(submissionOf(first).id);
    });
  });

  describe('concurrent identical submissions', () => {
    const CONCURRENT = 50;

    it('with one Idempotency-Key: all 202 with the same answer, one row, one job, each operation run once', async () => {
      const identifier = uniqueIdentifier('burst-key');
      const key = randomUUID();
      const payload = [
        { name: 'a', value: 1 },
        { name: 'b', value: 2 },
      ];
      const body = { identifier, operations: ['transform'], payload };

      const responses = await Promise.all(
        Array.from({ length: CONCURRENT }, () => api().post('/api/v1/process').set('Idempotency-Key', key).send(body)),
      );

      expect(responses.map((response) => response.status)).toEqual(Array(CONCURRENT).fill(202));
      const first = submissionOf(responses[0]!);
      for (const response of responses) {
        expect(response.body).toEqual(first);
      }
      const rows = await rowsWithIdentifier(identifier);
      expect(rows.map((row) => row.id)).toEqual([first.id]);

      const final = await settled(first.id);
      expect(final.state).toBe('completed');
      expect(Object.keys(final.operations_status)).toEqual(['validate', 'transform']);
      for (const status of Object.values(final.operations_status)) {
        expect(status).toMatchObject({ completed: true, attempts: 1, error: null });
      }
      const jobs = await jobsFor(first.id);
      expect(jobs.map((job) => job.id)).toEqual([first.task_id]);
      expect((await query<{ attempts: number }>('select attempts from processing_objects where id = $1', [first.id]))[0]!.attempts).toBe(1);

      // A payload this small is kept with its object: no S3 source.
      const bytes = Buffer.from(JSON.stringify(payload));
      expect(rows[0]!.source).toEqual({
        content_type: 'application/json',
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
      expect(JSON.parse((rows[0]!.source_inline as Buffer).toString())).toEqual(payload);
      expect(await listS3Keys(`${identifier}/source/`)).toEqual([]);
      expect(((await api().get(`/api/v1/objects/${first.id}`)).body as ObjectResponse).source).toEqual(rows[0]!.source);
    });

    it('without a key: exactly one 202, every other request 409 identifier_taken naming the winner, one row', async () => {
      const identifier = uniqueIdentifier('burst-nokey');
      const body = { identifier, operations: ['validate'], payload: { hello: 'world' } };

      const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => api().post('/api/v1/process').send(body)));

      const accepted = responses.filter((response) => response.status === 202);
      const conflicts = responses.filter((response) => response.status === 409);
      expect(accepted).toHaveLength(1);
      expect(conflicts).toHaveLength(CONCURRENT - 1);
      const winner = submissionOf(accepted[0]!).id;
      for (const conflict of conflicts) {
        expectErrorShape(conflict.body, 409, 'identifier_taken');
        expect(errorOf(conflict).details).toMatchObject({ id: winner });
      }
      expect((await rowsWithIdentifier(identifier)).map((row) => row.id)).toEqual([winner]);

      const final = await settled(winner);
      expect(final.state).toBe('completed');
      expect(final.operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
      expect(await jobsFor(winner)).toHaveLength(1);
      expect(await listS3Keys(`${identifier}/source/`)).toEqual([]);
    });

    it('with a payload over PAYLOAD_INLINE_MAX_BYTES: exactly one 202, its payload stored in S3 once as its source, nothing left of the others', async () => {
      const identifier = uniqueIdentifier('burst-offloaded');
      const payload = { text: 'x'.repeat(100) };
      const body = { identifier, operations: ['validate'], payload };

      const responses = await Promise.all(
        Array.from({ length: CONCURRENT }, () => request(smallLimitService.baseUrl).post('/api/v1/process').send(body)),
      );

      const accepted = responses.filter((response) => response.status === 202);
      expect(accepted).toHaveLength(1);
      expect(responses.filter((response) => response.status === 409)).toHaveLength(CONCURRENT - 1);
      const rows = await rowsWithIdentifier(identifier);
      expect(rows.map((row) => [row.id, row.state, row.source_inline])).toEqual([[submissionOf(accepted[0]!).id, 'queued', null]]);
      const source = rows[0]!.source as { s3_url: string; size: number };
      expect(source.s3_url).toBe(`s3://${smallLimitService.config.s3.bucket}/${identifier}/source/payload.json`);
      expect(JSON.parse((await readS3(source.s3_url)).toString())).toEqual(payload);
      expect(source.size).toBe(Buffer.byteLength(JSON.stringify(payload)));
      expect(await listS3Keys(`${identifier}/`)).toEqual([`${identifier}/source/payload.json`]);
    });
  });

  describe('bad input writes nothing', () => {
    interface BadSubmission {
      identifier: string;
      /** An object is sent as JSON; a string is sent as the raw body with content-type application/json. */
      body: unknown;
      headers?: Record<string, string>;
      code?: string;
      /** The field the details must name, when the error is about one field. */
      field?: string;
    }

    const valid = (identifier: string) => ({ identifier, operations: ['validate'] });
    const withValid = (label: string, change: Record<string, unknown>) => {
      const identifier = uniqueIdentifier(label);
      return { identifier, body: { ...valid(identifier), ...change } };
    };
    const withIdentifier = (identifier: unknown, label: string): BadSubmission => ({
      identifier: typeof identifier === 'string' ? identifier : label,
      body: { identifier, operations: ['validate'] },
      field: 'identifier',
    });
    const malformed = uniqueIdentifier('malformed');
    const asArray = uniqueIdentifier('array');

    const cases: [string, BadSubmission][] = [
      ['malformed JSON', { identifier: malformed, body: `{"identifier":"${malformed}","operations":["validate"]`, code: 'malformed_json' }],
      ['an empty JSON body', { identifier: 'empty-body', body: '', code: 'malformed_json' }],
      ['a JSON array', { identifier: asArray, body: JSON.stringify([valid(asArray)]) }],
      ['a JSON string', { identifier: 'string-body', body: JSON.stringify('string-body') }],
      ['JSON null', { identifier: 'null-body', body: 'null' }],
      ['no identifier', { identifier: 'missing', body: { operations: ['validate'] }, field: 'identifier' }],
      ['a numeric identifier', withIdentifier(12345, '12345')],
      ['identifier ../x', withIdentifier('../x', '')],
      ['identifier a/b', withIdentifier('a/b', '')],
      ['identifier .hidden', withIdentifier('.hidden', '')],
      ['identifier a..b', withIdentifier('a..b', '')],
      ['a 300-character identifier', withIdentifier('x'.repeat(300), '')],
      ['an empty identifier', withIdentifier('', '')],
      ['an identifier with a tab', withIdentifier('tab\there', '')],
      ['an identifier with NUL', withIdentifier('nul\u0000', '')],
      ['a Cyrillic identifier', withIdentifier('ключ', '')],
      [
        'no operations',
        (() => {
          const identifier = uniqueIdentifier('no-ops');
          return { identifier, body: { identifier }, field: 'operations' };
        })(),
      ],
      ['empty operations', { ...withValid('empty-ops', { operations: [] }), field: 'operations' }],
      ['non-string operations', { ...withValid('numeric-ops', { operations: [1] }), field: 'operations' }],
      ['operations not an array', { ...withValid('string-ops', { operations: 'validate' }), field: 'operations' }],
      ['metadata a string', { ...withValid('meta-string', { metadata: 'crm' }), field: 'metadata' }],
      ['metadata an array', { ...withValid('meta-array', { metadata: [1, 2] }), field: 'metadata' }],
      ['priority 0', { ...withValid('priority-0', { priority: 0 }), field: 'priority' }],
      ['priority 11', { ...withValid('priority-11', { priority: 11 }), field: 'priority' }],
      ["priority 'high'", { ...withValid('priority-high', { priority: 'high' }), field: 'priority' }],
      ['priority 2.5', { ...withValid('priority-frac', { priority: 2.5 }), field: 'priority' }],
      ['an unknown top-level field', { ...withValid('extra-field', { colour: 'red' }), field: 'colour' }],
      ['an unknown options key', withValid('opt-unknown', { options: { resize: { width: 10 } } })],
      ['an unknown key inside export options', withValid('opt-export-key', { options: { export: { format: 'csv', delimiter: ';' } } })],
      ["export.format 'xml'", withValid('opt-xml', { options: { export: { format: 'xml' } } })],
      ['options not an object', { ...withValid('opt-string', { options: 'fast' }), field: 'options' }],
      ['an invalid json_schema', withValid('opt-schema', { options: { validate: { json_schema: { type: 'no-such-type' } } } })],
      ['a json_schema that is not an object', withValid('opt-schema-str', { options: { validate: { json_schema: 'object' } } })],
      ['a 300-character Idempotency-Key', { ...withValid('long-key', {}), headers: { 'Idempotency-Key': 'k'.repeat(300) } }],
    ];

    it.each(cases)('%s is 400 in the one error shape', async (_name, bad) => {
      const before = await footprint();

      let call = api().post('/api/v1/process');
      for (const [name, value] of Object.entries(bad.headers ?? {})) {
        call = call.set(name, value);
      }
      const response =
        typeof bad.body === 'string'
          ? await call.set('content-type', 'application/json').send(bad.body)
          : await call.send(bad.body as object);

      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expectErrorShape(response.body, 400, bad.code);
      expect(errorOf(response).error).toBe('Bad Request');
      if (bad.field) {
        expect(errorOf(response).details).toEqual(expect.arrayContaining([expect.objectContaining({ field: bad.field })]));
      }

      expect(await footprint()).toEqual(before);
      if (bad.identifier !== '' && !/[\u0000-\u001f]/.test(bad.identifier)) {
        expect(await rowsWithIdentifier(bad.identifier)).toEqual([]);
        expect(await listS3Keys(`${bad.identifier}/`)).toEqual([]);
      }
    });

    it('an unknown operation is 400 unknown_operation listing the valid names, and writes nothing', async () => {
      const before = await footprint();
      const identifier = uniqueIdentifier('unknown-op');

      const response = await api()
        .post('/api/v1/process')
        .send({ identifier, operations: ['validate', 'resize'] })
        .expect(400);

      expectErrorShape(response.body, 400, 'unknown_operation');
      expect(errorOf(response).message).toContain('resize');
      for (const name of VALID_OPERATIONS) {
        expect(errorOf(response).message).toContain(name);
      }
      expect(await footprint()).toEqual(before);
      expect(await rowsWithIdentifier(identifier)).toEqual([]);
    });

    it('a body over PAYLOAD_LIMIT_BYTES is 413 payload_too_large and writes nothing', async () => {
      const before = await footprint();
      const identifier = uniqueIdentifier('too-large');
      const body = { identifier, operations: ['validate'], payload: { text: 'x'.repeat(10 * 1024) } };

      const response = await request(smallLimitService.baseUrl).post('/api/v1/process').send(body);

      expect(response.status).toBe(413);
      expectErrorShape(response.body, 413, 'payload_too_large');
      expect(await footprint()).toEqual(before);
      expect(await rowsWithIdentifier(identifier)).toEqual([]);
      expect(await listS3Keys(`${identifier}/`)).toEqual([]);

      const small = uniqueIdentifier('small-enough');
      await request(smallLimitService.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: small, operations: ['validate'], payload: { text: 'x' } })
        .expect(202);
      expect(await rowsWithIdentifier(small)).toHaveLength(1);
    });

    it.each(['text/plain', 'application/xml', 'application/x-www-form-urlencoded'])(
      'a %s body is 415 unsupported_media_type and writes nothing',
      async (contentType) => {
        const before = await footprint();
        const identifier = uniqueIdentifier('wrong-type');

        const body =
          contentType === 'application/x-www-form-urlencoded'
            ? `identifier=${identifier}&operations=validate`
            : JSON.stringify(valid(identifier));
        const response = await api().post('/api/v1/process').set('content-type', contentType).send(body);

        expect(response.status).toBe(415);
        expectErrorShape(response.body, 415, 'unsupported_media_type');
        expect(await footprint()).toEqual(before);
        expect(await rowsWithIdentifier(identifier)).toEqual([]);
      },
    );
  });

  describe('object ids and routes', () => {
    const notUuid: [string, string][] = [
      ['GET', '/api/v1/progress/not-a-uuid'],
      ['GET', '/api/v1/progress/not-a-uuid/stream'],
      ['GET', '/api/v1/objects/123/artifacts'],
      ['POST', '/api/v1/objects/123/cancel'],
      ['POST', '/api/v1/objects/123/retry'],
    ];

    it.each(notUuid)('%s %s is 400 for an id that is not a UUID', async (method, path) => {
      const response = await api()[method.toLowerCase() as 'get' | 'post' | 'delete'](path);
      expect(response.status).toBe(400);
      expectErrorShape(response.body, 400);
      expect(errorOf(response).message).toMatch(/uuid/i);
    });

    const unknownId = randomUUID();
    const unknown: [string, string][] = [
      ['GET', `/api/v1/progress/${unknownId}`],
      ['GET', `/api/v1/progress/${unknownId}/stream`],
      ['GET', `/api/v1/objects/${unknownId}/artifacts`],
      ['POST', `/api/v1/objects/${unknownId}/cancel`],
      ['POST', `/api/v1/objects/${unknownId}/retry`],
      ['DELETE', `/api/v1/objects/${unknownId}`],
      ['GET', '/api/v1/objects/no-such-identifier-anywhere'],
      ['DELETE', '/api/v1/objects/no-such-identifier-anywhere'],
    ];

    it('GET and DELETE /api/v1/objects/{object} take the id or the identifier, a UUID as an id first', async () => {
      const identifier = uniqueIdentifier('by-reference');
      const named = (
        await api()
          .post('/api/v1/process')
          .send({ identifier, operations: ['validate'] })
          .expect(202)
      ).body as { id: string };
      const uuidIdentifier = randomUUID();
      const uuidNamed = (
        await api()
          .post('/api/v1/process')
          .send({ identifier: uuidIdentifier, operations: ['validate'] })
          .expect(202)
      ).body as { id: string };
      await Promise.all([settled(named.id), settled(uuidNamed.id)]);

      expect((await api().get(`/api/v1/objects/${named.id}`).expect(200)).body).toMatchObject({ id: named.id, identifier });
      expect((await api().get(`/api/v1/objects/${identifier}`).expect(200)).body).toMatchObject({ id: named.id, identifier });
      // No object has this UUID as its id, so it is the other object's identifier.
      expect((await api().get(`/api/v1/objects/${uuidIdentifier}`).expect(200)).body).toMatchObject({
        id: uuidNamed.id,
        identifier: uuidIdentifier,
      });
      // Another object's identifier never shadows an id.
      await api()
        .post('/api/v1/process')
        .send({ identifier: named.id, operations: ['validate'] })
        .expect(202);
      expect((await api().get(`/api/v1/objects/${named.id}`).expect(200)).body).toMatchObject({ id: named.id, identifier });

      await api().delete(`/api/v1/objects/${identifier}`).expect(204);
      expectErrorShape((await api().get(`/api/v1/objects/${identifier}`).expect(404)).body, 404, 'object_not_found');
      await api().delete(`/api/v1/objects/${uuidNamed.id}`).expect(204);
      expectErrorShape((await api().get(`/api/v1/objects/${uuidIdentifier}`).expect(404)).body, 404, 'object_not_found');

      for (const method of ['get', 'delete'] as const) {
        expectErrorShape((await api()[method]('/api/v1/objects/..dots').expect(400)).body, 400, 'invalid_identifier');
      }
    });

    it.each(unknown)('%s %s is 404 object_not_found for an object that does not exist', async (method, path) => {
      const response = await api()[method.toLowerCase() as 'get' | 'post' | 'delete'](path);
      expect(response.status).toBe(404);
      expectErrorShape(response.body, 404, 'object_not_found');
      expect(errorOf(response).error).toBe('Not Found');
    });

    it.each([
      ['GET', '/api/v1/nothing-here'],
      ['POST', '/api/v2/process'],
    ])('%s %s is 404 route_not_found', async (method, path) => {
      const response = await api()[method.toLowerCase() as 'get' | 'post'](path);
      expect(response.status).toBe(404);
      expectErrorShape(response.body, 404, 'route_not_found');
    });
  });

  describe('duplicate operation names', () => {
    it('are ignored: the object asks for and plans each operation once', async () => {
      const identifier = uniqueIdentifier('dup-ops');
      const submitted = await api()
        .post('/api/v1/process')
        .send({ identifier, operations: ['validate', 'validate'] })
        .expect(202);

      const object = (await api().get(`/api/v1/objects/${identifier}`).expect(200)).body as ObjectResponse;
      expect(object).toMatchObject({ id: submissionOf(submitted).id, identifier, operations: ['validate'], plan: ['validate'] });
      expect(object.progress.total).toBe(1);

      const final = await settled(submissionOf(submitted).id);
      expect(final.state).toBe('completed');
      expect(Object.keys(final.operations_status)).toEqual(['validate']);
      expect(final.operations_status.validate).toMatchObject({ completed: true, attempts: 1 });
      expect(await listS3Keys(`${identifier}/`)).toEqual([`${identifier}/validate_result.json`]);
    });
  });
});
