import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApiKeysService } from '../src/access/api-keys.service';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { createS3Client } from '../src/storage/s3-client.factory';
import { listS3Keys, readS3 } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { S3FaultProxy, accessDeniedTo } from './support/s3-fault-proxy';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

type Json = Record<string, unknown>;

async function call(service: TestApp, method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function settled(service: TestApp, id: string, key?: string): Promise<ProgressResponse> {
  return waitFor(
    async () => {
      const { body } = await call(service, 'GET', `/api/v1/progress/${id}`, key);
      return ['completed', 'failed', 'cancelled'].includes(body.state as string) && (body as unknown as ProgressResponse);
    },
    { timeoutMs: 45_000, what: `object ${id} to settle` },
  );
}

/** A schema the payloads below break in two ways: a wrong type (the same cause at any position), or a missing field. */
const SCHEMA = { type: 'array', items: { type: 'object', required: ['sku'], properties: { qty: { type: 'integer' } } } };

describe('dead letters: error codes, fingerprints, filters and bulk retry (access control on)', () => {
  let service: TestApp;
  const teamA = `dl-a-${randomUUID().slice(0, 6)}`;
  const teamB = `dl-b-${randomUUID().slice(0, 6)}`;
  let keyA: string;
  let keyB: string;

  async function failWith(key: string, label: string, payload: unknown): Promise<string> {
    const submitted = await call(service, 'POST', '/api/v1/process', key, {
      identifier: uniqueIdentifier(label),
      operations: ['validate'],
      payload,
      options: { validate: { json_schema: SCHEMA } },
    });
    expect(submitted.status).toBe(202);
    const id = submitted.body.id as string;
    expect((await settled(service, id, key)).state).toBe('failed');
    return id;
  }

  beforeAll(async () => {
    service = await startTestApp({ AUTH_REQUIRED: 'true' });
    const apiKeys = service.app.get(ApiKeysService);
    keyA = (await apiKeys.create({ name: 'triage a', team: teamA, scopes: ['read', 'write'] })).secret;
    keyB = (await apiKeys.create({ name: 'triage b', team: teamB, scopes: ['read', 'write'] })).secret;
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  it('gives failed objects an error code and a fingerprint shared by failures of one cause, filters on both and on when they failed, and retries a fingerprint in bulk for one team only', async () => {
    const before = new Date();
    const wrongType = [
      await failWith(keyA, 'dl-type', [{ sku: 'a', qty: 'one' }]),
      await failWith(keyA, 'dl-type', [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 'two' },
      ]),
    ];
    const missing = await failWith(keyA, 'dl-missing', [{ qty: 1 }]);
    const otherTeam = await failWith(keyB, 'dl-type', [{ sku: 'a', qty: 'one' }]);

    const views = await Promise.all(
      [...wrongType, missing].map(async (id) => (await call(service, 'GET', `/api/v1/objects/${id}`, keyA)).body),
    );
    expect(views.map((view) => view.error_code)).toEqual(['invalid_content', 'invalid_content', 'invalid_content']);
    const fingerprint = views[0]!.error_fingerprint as string;
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(views[1]!.error_fingerprint).toBe(fingerprint);
    expect(views[2]!.error_fingerprint).not.toBe(fingerprint);
    const [stored] = await query<{ error_fingerprint: string }>('select error_fingerprint from processing_objects where id = $1', [
      otherTeam,
    ]);
    expect(stored?.error_fingerprint).toBe(fingerprint);

    const listed = async (filter: string) =>
      ((await call(service, 'GET', `/api/v1/objects?limit=100&${filter}`, keyA)).body.items as { id: string }[])
        .map((item) => item.id)
        .sort();
    expect(await listed(`error_fingerprint=${fingerprint}`)).toEqual([...wrongType].sort());
    expect(await listed('error_code=invalid_content&identifier_prefix=dl-')).toEqual([...wrongType, missing].sort());
    expect(await listed(`failed_after=${encodeURIComponent(before.toISOString())}&identifier_prefix=dl-`)).toEqual(
      [...wrongType, missing].sort(),
    );
    expect(await listed(`failed_before=${encodeURIComponent(before.toISOString())}&identifier_prefix=dl-`)).toEqual([]);
    expect(await listed('error_code=budget_exceeded&identifier_prefix=dl-')).toEqual([]);
    for (const bad of ['error_code=nope', 'error_fingerprint=XYZ', 'failed_after=yesterday']) {
      const refused = await call(service, 'GET', `/api/v1/objects?${bad}`, keyA);
      expect({ bad, status: refused.status }).toEqual({ bad, status: 400 });
      expectErrorShape(refused.body, 400);
    }

    const retried = await call(service, 'POST', '/api/v1/objects/retry', keyA, { error_fingerprint: fingerprint });
    expect(retried.status).toBe(200);
    expect({ ...retried.body, ids: (retried.body.ids as string[]).sort() }).toEqual({
      retried: 2,
      ids: [...wrongType].sort(),
      more: false,
    });
    for (const id of wrongType) {
      // The same content fails the same way again: a second attempt, the same fingerprint.
      const again = await waitFor(
        async () => {
          const view = (await call(service, 'GET', `/api/v1/objects/${id}`, keyA)).body;
          return view.state === 'failed' && view.attempts === 2 && view;
        },
        { timeoutMs: 45_000, what: `object ${id} to fail again` },
      );
      expect(again.error_fingerprint).toBe(fingerprint);
    }
    const [untouched] = await query<{ state: string; attempts: number }>('select state, attempts from processing_objects where id = $1', [
      otherTeam,
    ]);
    expect(untouched).toEqual({ state: 'failed', attempts: 1 });
    const [missingRow] = await query<{ attempts: number }>('select attempts from processing_objects where id = $1', [missing]);
    expect(missingRow?.attempts).toBe(1);
  });

  it('bounds a bulk retry by limit and says when more match', async () => {
    const ids = [await failWith(keyB, 'dl-bound', [{ qty: 1 }]), await failWith(keyB, 'dl-bound', [{ qty: 2 }])];
    const first = await call(service, 'POST', '/api/v1/objects/retry', keyB, { identifier_prefix: 'dl-bound', limit: 1 });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ retried: 1, more: true });
    expect(ids).toContain((first.body.ids as string[])[0]);
  });

  it('refuses malformed and hostile filters with 400', async () => {
    const bodies: unknown[] = [
      { limit: 0 },
      { limit: 1001 },
      { error_code: 'x' },
      { error_fingerprint: "' or 1=1 --" },
      { failed_after: 'soon' },
      { from_scratch: 'yes' },
      { extra: 1 },
      { identifier_prefix: '%' },
      { operation: 'resize' },
    ];
    for (const body of bodies) {
      const refused = await call(service, 'POST', '/api/v1/objects/retry', keyA, body);
      expect({ body, status: refused.status }).toEqual({ body, status: 400 });
      expectErrorShape(refused.body, 400);
    }
  });
});

describe('retry from an operation', () => {
  let proxy: S3FaultProxy;
  let service: TestApp;
  let s3: S3Client;

  beforeAll(async () => {
    proxy = await S3FaultProxy.start(process.env.S3_ENDPOINT!);
    service = await startTestApp({ S3_ENDPOINT: proxy.endpoint, JOB_ATTEMPTS: '1', MAX_PARALLEL_WORKERS: '1' });
    s3 = createS3Client(service.config.s3);
  });

  afterAll(async () => {
    s3?.destroy();
    await service?.close();
    await proxy?.close();
    await closeDatabase();
  });

  const modifiedAt = async (key: string) =>
    (await s3.send(new HeadObjectCommand({ Bucket: service.config.s3.bucket, Key: key }))).LastModified!.getTime();

  it('reruns that operation and every later one, keeps earlier results untouched, and replaces later artifacts', async () => {
    const identifier = uniqueIdentifier('from-op');
    // S3 refuses enrich's result: the object fails at enrich, after validate and transform completed.
    proxy.fault = accessDeniedTo(identifier, 'enrich');
    const submitted = await call(service, 'POST', '/api/v1/process', undefined, {
      identifier,
      operations: ['analyze'],
      payload: [
        { sku: 'a-1', qty: 3 },
        { sku: 'b-2', qty: 5 },
      ],
    });
    const id = submitted.body.id as string;
    const failed = await settled(service, id);
    expect(failed.state).toBe('failed');
    expect(failed.error_message).toMatch(/^enrich failed after 1 attempt\(s\)/);
    proxy.fault = undefined;

    const validateKey = `${identifier}/validate_result.json`;
    const transformKey = `${identifier}/transform_result.json`;
    const validateBytes = await readS3(failed.s3_artifacts.validate!);
    const [validateModified, transformModified] = [await modifiedAt(validateKey), await modifiedAt(transformKey)];
    // S3 keeps modification times to the second.
    await sleep(1100);

    const unknown = await call(service, 'POST', `/api/v1/objects/${id}/retry?from=thumbnail`);
    expect(unknown.status).toBe(400);
    expectErrorShape(unknown.body, 400);
    expect((await call(service, 'POST', `/api/v1/objects/${id}/retry?from=transform&from_scratch=true`)).status).toBe(400);

    const retried = await call(service, 'POST', `/api/v1/objects/${id}/retry?from=transform`);
    expect(retried.status).toBe(202);
    const done = await settled(service, id);
    expect({ state: done.state, error: done.error_message }).toEqual({ state: 'completed', error: null });

    expect(done.operations_status.validate).toEqual(failed.operations_status.validate);
    expect(await modifiedAt(validateKey)).toBe(validateModified);
    expect((await readS3(done.s3_artifacts.validate!)).equals(validateBytes)).toBe(true);
    expect(await modifiedAt(transformKey)).toBeGreaterThan(transformModified);
    expect(Date.parse(done.operations_status.transform!.started_at!)).toBeGreaterThan(
      Date.parse(failed.operations_status.enrich!.finished_at!),
    );
    expect((await listS3Keys(`${identifier}/`)).sort()).toEqual(
      [
        `${identifier}/analyze_result.json`,
        `${identifier}/enrich_result.json`,
        `${identifier}/transform/records.ndjson`,
        transformKey,
        validateKey,
      ].sort(),
    );
  });
});
