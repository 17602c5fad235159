import request from 'supertest';
import { JSON_SCHEMA_LIMITS } from '../src/operations/json-schema-guard';
import { MAX_JSON_DEPTH } from '../src/common/json-limits';
import { listS3Keys } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { waitUntilSettled } from './support/objects';
import { sendRaw } from './support/raw-http';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/** A JSON response body, as the error-shape check reads it. */
type JsonBody = Record<string, unknown>;

function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) {
    value = { a: value };
  }
  return value;
}

describe('input the service refuses with a clear 4xx', () => {
  let service: TestApp;
  const api = () => request(service.baseUrl);

  beforeAll(async () => {
    service = await startTestApp();
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  /** A refused submission left nothing behind: no row, no S3 key under its identifier. */
  async function expectNothingKept(identifier: string): Promise<void> {
    expect(await query('select id from processing_objects where identifier = $1', [identifier])).toEqual([]);
    expect(await listS3Keys(`${identifier}/`)).toEqual([]);
  }

  /** The service still does its ordinary work: an object submitted now completes. */
  async function expectOrdinaryObjectCompletes(): Promise<void> {
    const identifier = uniqueIdentifier('ordinary');
    const submitted = await api()
      .post('/api/v1/process')
      .send({
        identifier,
        operations: ['validate', 'analyze'],
        payload: [{ name: 'a', value: 1 }],
        options: { validate: { json_schema: { type: 'array' } } },
      })
      .expect(202);
    expect((await waitUntilSettled(service.baseUrl, (submitted.body as { id: string }).id)).state).toBe('completed');
  }

  async function expectRefusedSubmission(
    body: Record<string, unknown>,
    statusCode: number,
    code: string,
  ): Promise<Record<string, unknown>> {
    const response = await api().post('/api/v1/process').send(body);
    expect(response.status).toBe(statusCode);
    expectErrorShape(response.body as JsonBody, statusCode, code);
    await expectNothingKept(body.identifier as string);
    return response.body as JsonBody;
  }

  /** A multipart submission of a small JSON file, refused with a 400 and leaving nothing behind. */
  async function expectRefusedUpload(
    identifier: string,
    filename: string,
    fields: Record<string, string>,
    code: string,
  ): Promise<Record<string, unknown>> {
    let form = api().post('/api/v1/process').field('identifier', identifier).field('operations', 'validate');
    for (const [name, value] of Object.entries(fields)) {
      form = form.field(name, value);
    }
    const response = await form.attach('file', Buffer.from('[1]'), { filename, contentType: 'application/json' });
    expect(response.status).toBe(400);
    expectErrorShape(response.body as JsonBody, 400, code);
    await expectNothingKept(identifier);
    return response.body as JsonBody;
  }

  describe('client JSON Schemas', () => {
    const withSchema = (identifier: string, json_schema: unknown) => ({
      identifier,
      operations: ['validate'],
      payload: { s: 'x' },
      options: { validate: { json_schema } },
    });

    it('runs patterns on a linear-time engine: a catastrophic pattern is an ordinary mismatch', async () => {
      const identifier = uniqueIdentifier('redos');
      const submitted = await api()
        .post('/api/v1/process')
        .send({
          identifier,
          operations: ['validate'],
          payload: { s: `${'a'.repeat(40)}!` },
          options: { validate: { json_schema: { properties: { s: { pattern: '^(a+)+$' } } } } },
        })
        .expect(202);
      const settled = await waitUntilSettled(service.baseUrl, (submitted.body as { id: string }).id);
      expect(settled.state).toBe('failed');
      expect(settled.operations_status.validate!.error).toMatch(/pattern/);
      await api().get('/health/live').expect(200);
      await expectOrdinaryObjectCompletes();
    });

    it('refuses a pattern RE2 cannot run (backreference, lookahead), naming it', async () => {
      for (const pattern of ['^(a)\\1$', '^(?=a)a$']) {
        const identifier = uniqueIdentifier('pattern');
        const body = await expectRefusedSubmission(withSchema(identifier, { properties: { s: { pattern } } }), 400, 'unsupported_pattern');
        expect(body.message).toContain(JSON.stringify(pattern));
      }
      const identifier = uniqueIdentifier('pattern-props');
      await expectRefusedSubmission(
        withSchema(identifier, { patternProperties: { '(?<!x)y': { type: 'string' } } }),
        400,
        'unsupported_pattern',
      );
      await expectOrdinaryObjectCompletes();
    });

    it('refuses recursive $ref: to the root, mutual definitions, and a tree that descends into the data', async () => {
      const recursive = [
        { $ref: '#' },
        { $defs: { a: { properties: { b: { $ref: '#/$defs/b' } } }, b: { properties: { a: { $ref: '#/$defs/a' } } } }, $ref: '#/$defs/a' },
        { $defs: { node: { properties: { children: { items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' },
      ];
      for (const schema of recursive) {
        const body = await expectRefusedSubmission(withSchema(uniqueIdentifier('ref'), schema), 400, 'json_schema_too_complex');
        expect(body.message).toMatch(/recursive/);
        expect(body.details).toMatchObject({ field: 'options.validate.json_schema', limit: 'recursion' });
      }
      const remote = await expectRefusedSubmission(
        withSchema(uniqueIdentifier('ref'), { $ref: 'https://example.com/schema.json' }),
        400,
        'json_schema_too_complex',
      );
      expect(remote.message).toMatch(/local JSON pointer/);
      await expectOrdinaryObjectCompletes();
    });

    it('accepts a non-recursive $ref and validates with it', async () => {
      const identifier = uniqueIdentifier('ref-ok');
      const submitted = await api()
        .post('/api/v1/process')
        .send(
          withSchema(identifier, {
            $defs: { text: { type: 'string' } },
            properties: { s: { $ref: '#/$defs/text' }, t: { $ref: '#/$defs/text' } },
          }),
        )
        .expect(202);
      expect((await waitUntilSettled(service.baseUrl, (submitted.body as { id: string }).id)).state).toBe('completed');
    });

    it('refuses schemas over the size, depth and node limits, naming the limit', async () => {
      const manyProperties = Object.fromEntries(
        Array.from({ length: JSON_SCHEMA_LIMITS.nodes }, (_, index) => [`p${index}`, { type: 'string' }]),
      );
      const cases: [unknown, string][] = [
        [{ properties: manyProperties }, 'nodes'],
        [{ description: 'x'.repeat(JSON_SCHEMA_LIMITS.bytes) }, 'bytes'],
        [nested(JSON_SCHEMA_LIMITS.depth, { type: 'string' }), 'depth'],
      ];
      for (const [schema, limit] of cases) {
        const body = await expectRefusedSubmission(withSchema(uniqueIdentifier('big'), schema), 400, 'json_schema_too_complex');
        expect(body.details).toMatchObject({ limit, max: JSON_SCHEMA_LIMITS[limit as keyof typeof JSON_SCHEMA_LIMITS] });
        expect(body.message).toContain(String(JSON_SCHEMA_LIMITS[limit as keyof typeof JSON_SCHEMA_LIMITS]));
      }
      await expectOrdinaryObjectCompletes();
    });
  });

  describe('deeply nested JSON', () => {
    it('accepts metadata, options and payload nested to the limit, and refuses one level more', async () => {
      const atLimit = {
        identifier: uniqueIdentifier('deep-ok'),
        operations: ['validate'],
        metadata: nested(MAX_JSON_DEPTH),
        payload: nested(MAX_JSON_DEPTH),
      };
      await api().post('/api/v1/process').send(atLimit).expect(202);
      for (const field of ['metadata', 'payload']) {
        const identifier = uniqueIdentifier('deep');
        const response = await api()
          .post('/api/v1/process')
          .send({ identifier, operations: ['validate'], [field]: nested(MAX_JSON_DEPTH + 1) });
        expect(response.status).toBe(400);
        expectErrorShape(response.body as JsonBody, 400, 'json_too_deep');
        await expectNothingKept(identifier);
      }
    });

    it('refuses a body nested thousands deep before parsing it, in the one shape', async () => {
      const identifier = uniqueIdentifier('deeper');
      const text = `{"identifier":"${identifier}","operations":["validate"],"payload":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      const response = await api().post('/api/v1/process').set('content-type', 'application/json').send(text);
      expect(response.status).toBe(400);
      expectErrorShape(response.body as JsonBody, 400, 'json_too_deep');
      expect((response.body as JsonBody).message).toContain('65');
      await expectNothingKept(identifier);
      await expectOrdinaryObjectCompletes();
    });

    it('refuses a multipart metadata field nested beyond the limit', async () => {
      const identifier = uniqueIdentifier('deep-form');
      const body = await expectRefusedUpload(
        identifier,
        'a.json',
        { metadata: JSON.stringify(nested(MAX_JSON_DEPTH + 1)) },
        'json_too_deep',
      );
      expect(body.details).toEqual([expect.objectContaining({ field: 'metadata' })]);
    });
  });

  describe('characters PostgreSQL cannot store', () => {
    it('refuses U+0000 and unpaired surrogates in metadata, options and payload strings and keys, naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ metadata: { note: 'a\u0000b' } }, 'metadata.note'],
        [{ metadata: { list: ['ok', '\ud800'] } }, 'metadata.list.1'],
        [{ metadata: { ['k\u0000']: 1 } }, 'metadata (a key)'],
        [{ options: { export: { format: '\udc00' } } }, 'options.export.format'],
        [{ payload: { deep: { text: 'x\ud83d' } } }, 'payload.deep.text'],
      ];
      for (const [fields, field] of cases) {
        const identifier = uniqueIdentifier('nul');
        const body = await expectRefusedSubmission({ identifier, operations: ['validate'], ...fields }, 400, 'unstorable_character');
        expect(body.details).toEqual([expect.objectContaining({ field })]);
      }
      const paired = { identifier: uniqueIdentifier('emoji'), operations: ['validate'], metadata: { note: 'ok \ud83d\ude00' } };
      await api().post('/api/v1/process').send(paired).expect(202);
      await expectOrdinaryObjectCompletes();
    });

    it('refuses U+0000 in an uploaded file name', async () => {
      await expectRefusedUpload(uniqueIdentifier('nul-file'), 'a\u0000.json', {}, 'unstorable_character');
      await expectOrdinaryObjectCompletes();
    });
  });

  describe('list parameters', () => {
    it('refuses crafted cursors and out-of-range dates as 400s naming the field', async () => {
      const cursors = [
        'WyIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiLCIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiXQ',
        Buffer.from(JSON.stringify(['+275760-09-13T00:00:00.000Z', '550e8400-e29b-41d4-a716-446655440000'])).toString('base64url'),
        Buffer.from(JSON.stringify(['2026-02-30T00:00:00.000Z', '550e8400-e29b-41d4-a716-446655440000'])).toString('base64url'),
        Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000Z', '550e8400-e29b-41d4-a716-446655440000'])).toString('base64url'),
        Buffer.from('{"a":1}').toString('base64url'),
        '%%%',
      ];
      for (const cursor of cursors) {
        const response = await api().get('/api/v1/objects').query({ cursor });
        expect(response.status).toBe(400);
        expectErrorShape(response.body as JsonBody, 400, 'validation_failed');
        expect((response.body as JsonBody).details).toEqual([expect.objectContaining({ field: 'cursor' })]);
      }
      for (const created_after of ['+275760-09-13', '2026-02-30', '0000-01-01', '9999-12-31T23:59:59-23:59', '0001-01-01T00:00:00+23:59']) {
        const response = await api().get('/api/v1/objects').query({ created_after });
        expect(response.status).toBe(400);
        expectErrorShape(response.body as JsonBody, 400, 'validation_failed');
        expect((response.body as JsonBody).details).toEqual([expect.objectContaining({ field: 'created_after' })]);
      }
      await api().get('/api/v1/objects').query({ created_after: '2020-01-01T00:00:00Z', limit: 1 }).expect(200);
    });
  });

  describe("Fastify's own refusals", () => {
    it('answers an unknown method, a malformed request line and oversized headers in the one shape', async () => {
      const unknownMethod = await sendRaw(service.baseUrl, 'FOO /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(unknownMethod.statusCode).toBe(400);
      expectErrorShape(JSON.parse(unknownMethod.body) as JsonBody, 400, 'malformed_request');

      const badLine = await sendRaw(service.baseUrl, 'GET /api/v1/status HTTP/9\r\n\r\n');
      expect(badLine.statusCode).toBe(400);
      expectErrorShape(JSON.parse(badLine.body) as JsonBody, 400, 'malformed_request');

      const bigHeaders = await sendRaw(service.baseUrl, `GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(bigHeaders.statusCode).toBe(431);
      expectErrorShape(JSON.parse(bigHeaders.body) as JsonBody, 431, 'headers_too_large');
      await expectOrdinaryObjectCompletes();
    });

    it('answers bad percent-encoding, a path parameter over 512 characters and an unknown route in the one shape', async () => {
      const badUrl = await api().get('/api/v1/objects/%E0%A4%A');
      expect(badUrl.status).toBe(400);
      expectErrorShape(badUrl.body as JsonBody, 400, 'malformed_request');

      const longParam = await api().get(`/api/v1/objects/${'a'.repeat(600)}`);
      expect(longParam.status).toBe(414);
      expectErrorShape(longParam.body as JsonBody, 414, 'uri_too_long');

      const unknownRoute = await api().propfind('/api/v1/status');
      expect(unknownRoute.status).toBe(404);
      expectErrorShape(unknownRoute.body as JsonBody, 404, 'route_not_found');
    });
  });
});
