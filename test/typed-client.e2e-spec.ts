import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './support/api-types';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

type Schemas = components['schemas'];

const RECORDS = [
  { name: 'a', value: 1 },
  { name: 'b', value: 2.5 },
  { name: 'c', value: 4 },
];

/**
 * The contract is usable: a client generated from the committed openapi/openapi.json
 * (test/support/api-types.ts, by openapi-typescript) drives a whole object's life through
 * openapi-fetch, with request and response types taken from the contract alone.
 */
describe('a typed client generated from the OpenAPI contract', () => {
  let service: TestApp;
  let client: Client<paths>;

  beforeAll(async () => {
    service = await startTestApp();
    client = createClient<paths>({ baseUrl: service.baseUrl });
  });

  afterAll(async () => {
    await service.close();
  });

  it('submits an object, follows it to completed, reads it and downloads its artifacts', async () => {
    const identifier = uniqueIdentifier('typed-client');
    const submission: Schemas['SubmitObjectDto'] = {
      identifier,
      operations: ['analyze'],
      payload: RECORDS,
      metadata: { source: 'typed-client' },
      priority: 7,
    };

    const submitted = await client.POST('/api/v1/process', {
      body: submission,
      params: { header: { 'idempotency-key': `key-${identifier}` } },
    });
    expect(submitted.response.status).toBe(202);
    expect(submitted.error).toBeUndefined();
    const accepted: Schemas['SubmissionResponseDto'] = submitted.data!;
    expect(accepted).toEqual({
      id: expect.any(String) as unknown,
      identifier,
      state: 'queued',
      task_id: expect.any(String) as unknown,
      message: 'Object queued for processing',
    });

    const finished = await waitFor(
      async () => {
        const { data, error } = await client.GET('/api/v1/progress/{object_id}', { params: { path: { object_id: accepted.id } } });
        if (error) {
          throw new Error(`${error.code}: ${error.message}`);
        }
        return (data.state === 'completed' || data.state === 'failed') && data;
      },
      { timeoutMs: 45_000, intervalMs: 100, what: `object ${accepted.id} to finish` },
    );
    expect(finished.error_message).toBeNull();
    expect(finished.state).toBe('completed');
    expect(finished.progress).toEqual({ current: 4, total: 4, message: expect.any(String) as unknown });
    const statuses: Schemas['OperationStatusResponse'][] = Object.values(finished.operations_status);
    expect(statuses.map((status) => status.completed)).toEqual([true, true, true, true]);

    const byIdentifier = await client.GET('/api/v1/objects/{object}', { params: { path: { object: identifier } } });
    expect(byIdentifier.response.status).toBe(200);
    const object: Schemas['ObjectResponse'] = byIdentifier.data!;
    expect(object).toMatchObject({
      id: accepted.id,
      identifier,
      state: 'completed',
      operations: ['analyze'],
      priority: 7,
      metadata: { source: 'typed-client' },
    });
    expect(object.plan).toEqual(['validate', 'transform', 'enrich', 'analyze']);
    expect(object.source?.content_type).toBe('application/json');
    expect(Object.keys(object.s3_artifacts).sort()).toEqual(['analyze', 'enrich', 'transform', 'validate']);

    const listed = await client.GET('/api/v1/objects', {
      params: { query: { identifier_prefix: identifier, state: 'completed', limit: 5 } },
    });
    expect(listed.data?.items.map((item) => item.id)).toEqual([accepted.id]);
    expect(listed.data?.next_cursor).toBeNull();

    const artifacts = await client.GET('/api/v1/objects/{object_id}/artifacts', { params: { path: { object_id: accepted.id } } });
    expect(artifacts.response.status).toBe(200);
    const listing: Schemas['ArtifactsResponse'] = artifacts.data!;
    expect(listing).toMatchObject({ id: accepted.id, identifier, state: 'completed' });
    const analyze = listing.artifacts.find((artifact) => artifact.operation === 'analyze');
    expect(analyze?.s3_url).toBe(object.s3_artifacts.analyze);
    expect(Date.parse(analyze!.expires_at)).toBeGreaterThan(Date.now());
    const download = await fetch(analyze!.url);
    expect(download.status).toBe(200);
    expect(await download.json()).toEqual(expect.any(Object));

    const status = await client.GET('/api/v1/status');
    expect(status.data?.max_workers).toBe(service.config.maxParallelWorkers);
  }, 60_000);

  it('reads typed error bodies: 409 for a taken identifier, 404 for an unknown object, 400 for bad input', async () => {
    const identifier = uniqueIdentifier('typed-conflict');
    const first = await client.POST('/api/v1/process', { body: { identifier, operations: ['validate'] } });
    expect(first.response.status).toBe(202);

    const again = await client.POST('/api/v1/process', { body: { identifier, operations: ['validate'] } });
    expect(again.response.status).toBe(409);
    expect(again.data).toBeUndefined();
    const conflict: Schemas['ErrorResponse'] = again.error!;
    expect(conflict).toMatchObject({ statusCode: 409, error: 'Conflict', code: 'identifier_taken' });
    expect(conflict.message).toContain(first.data!.id);
    expect(conflict.details).toEqual({ id: first.data!.id, identifier, state: expect.any(String) as unknown });

    const unknownId = '00000000-0000-4000-8000-000000000000';
    const missing = await client.GET('/api/v1/objects/{object_id}/artifacts', { params: { path: { object_id: unknownId } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'object_not_found',
      message: `Object ${unknownId} not found`,
    });

    // The contract lists the operations, so a typed client cannot name an unknown one: this one is smuggled past the types.
    const invalid = await client.POST('/api/v1/process', {
      body: { identifier: uniqueIdentifier('typed-bad'), operations: ['resize' as Schemas['SubmitObjectDto']['operations'][number]] },
    });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.code).toBe('unknown_operation');
    expect(invalid.error?.message).toContain('resize');

    const cancelled = await client.POST('/api/v1/objects/{object_id}/cancel', { params: { path: { object_id: first.data!.id } } });
    // Either the cancel wins (200) or the object already finished (409: a terminal state cannot change).
    expect([200, 409]).toContain(cancelled.response.status);
    if (cancelled.error) {
      expect(cancelled.error.code).toBe('invalid_transition');
    } else {
      expect(cancelled.data?.state).toBe('cancelled');
    }
  });
});
