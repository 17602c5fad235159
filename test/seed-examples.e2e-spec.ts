import request from 'supertest';
import { ProgressResponse } from '../src/objects/dto/object.responses';
import { readS3, readS3Json } from './support/artifacts';
import { closeDatabase, objectRow } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

describe('the seed examples, end to end', () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp({ SIMULATED_OPERATION_DELAY_MS: '150' });
  });

  afterAll(async () => {
    await service.close();
    await closeDatabase();
  });

  const progressOf = async (id: string) =>
    (await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;

  it('runs validate, transform, enrich, analyze in order and shows the seed progress shape at every step', async () => {
    const identifier = uniqueIdentifier('object-123');
    const submitted = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({ identifier, operations: ['validate', 'transform', 'analyze'] })
      .expect(202);
    expect(submitted.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      identifier,
      state: 'queued',
      task_id: expect.any(String) as unknown,
      message: 'Object queued for processing',
    });
    const id = (submitted.body as { id: string }).id;

    const seen: ProgressResponse[] = [];
    const final = await waitFor(
      async () => {
        const progress = await progressOf(id);
        seen.push(progress);
        return ['completed', 'failed'].includes(progress.state) && progress;
      },
      { intervalMs: 20, what: 'the object to settle' },
    );

    for (const progress of seen) {
      // `waiting`, added to the seed's shape, explains a queued object's wait (README "Queue control").
      expect(Object.keys(progress).sort()).toEqual(
        [
          'current_operation',
          'error_message',
          'id',
          'identifier',
          'operations_status',
          's3_artifacts',
          'state',
          'progress',
          ...(progress.state === 'queued' ? ['waiting'] : []),
        ].sort(),
      );
      expect(progress.progress.total).toBe(4);
      expect(progress.progress.current).toBe(Object.values(progress.operations_status).filter((status) => status.completed).length);
    }
    expect(seen.map((progress) => progress.current_operation).filter((name, index, all) => name && all.indexOf(name) === index)).toEqual([
      'validate',
      'transform',
      'enrich',
      'analyze',
    ]);

    expect(final.state).toBe('completed');
    expect(final.error_message).toBeNull();
    expect(final.current_operation).toBeNull();
    expect(final.progress).toEqual({ current: 4, total: 4, message: 'Completed' });
    const bucket = service.config.s3.bucket;
    for (const operation of ['validate', 'transform', 'enrich', 'analyze']) {
      const url = `s3://${bucket}/${identifier}/${operation}_result.json`;
      expect(final.s3_artifacts[operation]).toBe(url);
      expect(final.operations_status[operation]).toMatchObject({ completed: true, s3_url: url, attempts: 1, error: null });
    }
    const statuses = ['validate', 'transform', 'enrich', 'analyze'].map((operation) => final.operations_status[operation]);
    for (let index = 1; index < statuses.length; index++) {
      expect(Date.parse(statuses[index]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(statuses[index - 1]!.finished_at!));
    }

    const metadataDocument = Buffer.from(JSON.stringify({ identifier, metadata: {} }));
    const validation = await readS3Json(final.s3_artifacts.validate!);
    expect(validation).toMatchObject({ valid: true, size: metadataDocument.length, json_kind: 'object', record_count: 1 });
    const records = await readS3(`s3://${bucket}/${identifier}/transform/records.ndjson`);
    expect(records.toString()).toBe(`${JSON.stringify({ identifier, metadata: {} })}\n`);

    const row = await objectRow(id);
    expect(row).toMatchObject({ state: 'completed', identifier, plan: ['validate', 'transform', 'enrich', 'analyze'] });
  });

  it('processes an inline JSON payload and computes statistics that match the data', async () => {
    const identifier = uniqueIdentifier('payload');
    const payload = [
      { city: 'Oslo', temperature: 4, rainy: true },
      { city: 'Rome', temperature: 18.5, rainy: false },
      { city: 'Oslo', temperature: 7.5, rainy: null },
    ];
    const submitted = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({ identifier, operations: ['analyze'], payload })
      .expect(202);
    const { id } = submitted.body as { id: string };
    const final = await waitFor(async () => {
      const progress = await progressOf(id);
      return progress.state === 'completed' && progress;
    });

    const row = await objectRow(id);
    // A small payload is kept with its object.
    const source = row!.source as { size: number; sha256: string };
    expect(JSON.parse((row!.source_inline as Buffer).toString())).toEqual(payload);
    expect(source.size).toBe(Buffer.byteLength(JSON.stringify(payload)));

    const records = (await readS3(`s3://${service.config.s3.bucket}/${identifier}/transform/records.ndjson`)).toString().trim().split('\n');
    expect(records.map((line) => JSON.parse(line) as unknown)).toEqual(payload);

    const enrichment = await readS3Json<{ schema: { fields: { name: string; types: string[]; nullable: boolean }[] } }>(
      final.s3_artifacts.enrich!,
    );
    expect(enrichment.schema.fields).toEqual([
      { name: 'city', types: ['string'], nullable: false, present_in: 3 },
      { name: 'temperature', types: ['integer', 'number'], nullable: false, present_in: 3 },
      { name: 'rainy', types: ['boolean'], nullable: true, present_in: 3 },
    ]);

    const analysis = await readS3Json<{
      record_count: number;
      fields: {
        temperature: { numeric: { min: number; max: number; mean: number; stddev: number; quantiles: Record<string, number> } };
        city: unknown;
        rainy: unknown;
      };
    }>(final.s3_artifacts.analyze!);
    expect(analysis.record_count).toBe(3);
    const temperature = analysis.fields.temperature.numeric;
    expect(temperature.min).toBe(4);
    expect(temperature.max).toBe(18.5);
    expect(temperature.mean).toBeCloseTo(10, 10);
    expect(temperature.stddev).toBeCloseTo(Math.sqrt(((4 - 10) ** 2 + (18.5 - 10) ** 2 + (7.5 - 10) ** 2) / 2), 10);
    expect(temperature.quantiles.p50).toBe(7.5);
    expect(analysis.fields.city).toMatchObject({
      count: 3,
      nulls: 0,
      distinct: 2,
      top_values: [
        { value: 'Oslo', count: 2 },
        { value: 'Rome', count: 1 },
      ],
    });
    expect(analysis.fields.rainy).toMatchObject({ nulls: 1, distinct: 2 });
  });
});
