import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { ApiKeysService } from '../src/access/api-keys.service';
import { taskIdFor } from '../src/queue/jobs';
import { listS3Keys } from './support/artifacts';
import { cuttableProxy } from './support/cuttable-proxy';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { objectsQueueOf } from './support/objects';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

type Json = Record<string, unknown>;
interface Item {
  index: number;
  status: number;
  result?: { id: string; identifier: string; state: string; task_id: string };
  error?: Json;
}

async function postBatch(
  service: TestApp,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; text: string }> {
  const response = await fetch(`${service.baseUrl}/api/v1/process/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Json, text };
}

const INLINE_MAX_BYTES = 32;

describe('POST /api/v1/process/batch', () => {
  // No worker: accepted objects stay queued, with their jobs waiting in the queue.
  let service: TestApp;
  let queue: Queue;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api', PAYLOAD_INLINE_MAX_BYTES: String(INLINE_MAX_BYTES) });
    queue = objectsQueueOf(service);
  });

  afterAll(async () => {
    await queue?.close();
    await service?.close();
    await closeDatabase();
  });

  it('answers 1,000 items in order: a row and a job for each accepted one, nothing at all for a refused one', async () => {
    const label = `batch-${randomUUID().slice(0, 6)}`;
    const taken = uniqueIdentifier(`${label}-taken`);
    expect(
      (
        await fetch(`${service.baseUrl}/api/v1/process`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identifier: taken, operations: ['validate'] }),
        })
      ).status,
    ).toBe(202);
    const expectedRefusal = new Map<number, { status: number; code: string }>();
    const items = Array.from({ length: 1000 }, (_, index): unknown => {
      const identifier = `${label}-${index}`;
      if (index % 100 === 7) {
        expectedRefusal.set(index, { status: 400, code: 'validation_failed' });
        return { identifier: `bad id ${index}`, operations: ['validate'] };
      }
      if (index % 100 === 13) {
        expectedRefusal.set(index, { status: 400, code: 'unknown_operation' });
        return { identifier, operations: ['resize'] };
      }
      if (index % 100 === 21) {
        expectedRefusal.set(index, { status: 400, code: 'validation_failed' });
        return index % 200 === 21 ? 'not an object' : { identifier, operations: [], priority: 11 };
      }
      if (index === 500) {
        expectedRefusal.set(index, { status: 409, code: 'identifier_taken' });
        return { identifier: taken, operations: ['validate'] };
      }
      if (index === 501) {
        // The same identifier as the item before it: only the first one gets it.
        expectedRefusal.set(index, { status: 409, code: 'identifier_taken' });
        return { identifier: `${label}-499`, operations: ['validate'] };
      }
      // Every 100th payload is over PAYLOAD_INLINE_MAX_BYTES (stored in S3); the other ones are kept inline.
      const payload = index % 100 === 0 ? [{ n: index, padding: 'x'.repeat(INLINE_MAX_BYTES) }] : [{ n: index }];
      return index % 50 === 0
        ? { identifier, operations: ['validate', 'export'], payload, metadata: { index }, priority: 1 + (index % 10) }
        : { identifier, operations: ['validate'], metadata: { index } };
    });
    const answer = await postBatch(service, { objects: items });
    expect(answer.status).toBe(200);
    const results = answer.body.items as Item[];
    expect(results.map((item) => item.index)).toEqual(items.map((_, index) => index));
    for (const item of results) {
      const refusal = expectedRefusal.get(item.index);
      if (refusal) {
        expect({ index: item.index, status: item.status, code: item.error?.code }).toEqual({ index: item.index, ...refusal });
        expectErrorShape(item.error!, refusal.status, refusal.code);
        expect(item.result).toBeUndefined();
      } else {
        expect({ index: item.index, status: item.status }).toEqual({ index: item.index, status: 202 });
        expect(item.result).toMatchObject({
          identifier: `${label}-${item.index}`,
          state: 'queued',
          task_id: taskIdFor(item.result!.id, 1),
        });
      }
    }
    const accepted = results.filter((item) => item.status === 202);
    expect({ accepted: answer.body.accepted, refused: answer.body.refused }).toEqual({
      accepted: 1000 - expectedRefusal.size,
      refused: expectedRefusal.size,
    });

    const rows = await query<{ id: string; identifier: string; state: string; priority: number }>(
      `select id, identifier, state, priority from processing_objects where identifier like $1`,
      [`${label}-%`],
    );
    // The pre-existing object is the only row beyond the accepted items.
    expect(
      rows
        .filter((row) => row.identifier !== taken)
        .map((row) => row.id)
        .sort(),
    ).toEqual(accepted.map((item) => item.result!.id).sort());
    expect(rows.every((row) => row.state === 'queued')).toBe(true);
    expect(rows.find((row) => row.identifier === `${label}-50`)?.priority).toBe(1);
    const jobs = await Promise.all(accepted.map((item) => queue.getJob(item.result!.task_id)));
    expect(jobs.filter((job) => job === undefined || (job.data as { objectId?: string }).objectId === undefined)).toEqual([]);
    const sources = await listS3Keys(`${label}-`);
    expect(sources.filter((key) => key.endsWith('/source/payload.json')).sort()).toEqual(
      accepted
        .filter((item) => item.index % 100 === 0)
        .map((item) => `${label}-${item.index}/source/payload.json`)
        .sort(),
    );
    const inline = await query<{ identifier: string }>(
      `select identifier from processing_objects where identifier like $1 and source_inline is not null`,
      [`${label}-%`],
    );
    expect(inline.map((row) => row.identifier).sort()).toEqual(
      accepted
        .filter((item) => item.index % 100 === 50)
        .map((item) => `${label}-${item.index}`)
        .sort(),
    );
  });

  it('replays the whole answer for the same Idempotency-Key and body, and refuses the key with another body', async () => {
    const key = randomUUID();
    const body = {
      objects: [
        { identifier: uniqueIdentifier('batch-idem'), operations: ['validate'] },
        { identifier: 'bad id', operations: ['validate'] },
      ],
    };
    const first = await postBatch(service, body, { 'idempotency-key': key });
    const again = await postBatch(service, body, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    const other = await postBatch(
      service,
      { objects: [{ identifier: uniqueIdentifier('batch-idem'), operations: ['validate'] }] },
      { 'idempotency-key': key },
    );
    expect(other.status).toBe(409);
    expectErrorShape(other.body, 409, 'idempotency_key_reused');
  });

  it('refuses a malformed, empty, oversized or non-JSON batch whole, writing nothing', async () => {
    const label = `batch-bad-${randomUUID().slice(0, 6)}`;
    const bodies: unknown[] = [
      [],
      { objects: [] },
      { objects: {} },
      { objects: [{ identifier: `${label}-x`, operations: ['validate'] }], extra: true },
      { items: [] },
      { objects: Array.from({ length: 1001 }, (_, index) => ({ identifier: `${label}-${index}`, operations: ['validate'] })) },
      '{"objects": [',
    ];
    for (const body of bodies) {
      const refused = await postBatch(service, body);
      expect({ body: JSON.stringify(body).slice(0, 60), status: refused.status }).toEqual({
        body: JSON.stringify(body).slice(0, 60),
        status: 400,
      });
      expectErrorShape(refused.body, 400);
    }
    const form = new FormData();
    form.set('identifier', `${label}-form`);
    const multipart = await fetch(`${service.baseUrl}/api/v1/process/batch`, { method: 'POST', body: form });
    expect(multipart.status).toBe(415);
    expect(await query('select id from processing_objects where identifier like $1', [`${label}-%`])).toEqual([]);
  });

  it('keeps nothing of a batch whose jobs the queue cannot take (Redis gone): 503', async () => {
    const proxy = await cuttableProxy(new URL(service.config.redis.url));
    // Payloads to S3 (none inline), so that their removal is shown too.
    const cut = await startTestApp({ APP_ROLE: 'api', REDIS_URL: proxy.url.toString(), PAYLOAD_INLINE_MAX_BYTES: '0' });
    try {
      const label = `batch-down-${randomUUID().slice(0, 6)}`;
      await proxy.cut();
      const refused = await postBatch(cut, {
        objects: [0, 1, 2].map((index) => ({ identifier: `${label}-${index}`, operations: ['validate'], payload: { index } })),
      });
      expect(refused.status).toBe(503);
      expectErrorShape(refused.body, 503, 'dependency_unavailable');
      expect(await query('select id from processing_objects where identifier like $1', [`${label}-%`])).toEqual([]);
      expect(await listS3Keys(`${label}-`)).toEqual([]);
    } finally {
      await cut.close();
    }
  });

  it("refuses the items beyond the team's cap on waiting objects with 429, and accepts the rest", async () => {
    const capped = await startTestApp({ APP_ROLE: 'api', AUTH_REQUIRED: 'true', TEAM_MAX_QUEUED_OBJECTS: '5' });
    try {
      const team = `batch-cap-${randomUUID().slice(0, 6)}`;
      const key = (await capped.app.get(ApiKeysService).create({ name: 'batch', team, scopes: ['write'] })).secret;
      const answer = await postBatch(
        capped,
        { objects: Array.from({ length: 8 }, (_, index) => ({ identifier: `${team}-${index}`, operations: ['validate'] })) },
        { authorization: `Bearer ${key}` },
      );
      expect(answer.status).toBe(200);
      const statuses = (answer.body.items as Item[]).map((item) => item.status);
      expect(statuses.filter((status) => status === 202).length).toBe(5);
      expect(statuses.filter((status) => status === 429).length).toBe(3);
      expect(
        (answer.body.items as Item[]).filter((item) => item.status === 429).every((item) => item.error?.code === 'team_queue_full'),
      ).toBe(true);
      expect(await query('select count(*)::int as count from processing_objects where team = $1', [team])).toEqual([{ count: 5 }]);
    } finally {
      await capped.close();
    }
  });
});
