import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { closeDatabase, query } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import type { components } from './support/api-types';

const OBJECTS = 300;

describe('GET /api/v1/objects keyset paging', () => {
  let service: TestApp;
  const prefix = uniqueIdentifier('paging');

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
    // Rows that share milliseconds: 30 per millisecond with distinct microseconds, and in every
    // millisecond three that share one microsecond too (their order falls to the id).
    for (let index = 0; index < OBJECTS; index++) {
      const millisecond = Math.floor(index / 30);
      const microsecond = index % 30 < 3 ? 999 : 100 + (index % 30);
      const createdAt = `2031-01-01 00:00:00.${String(millisecond).padStart(3, '0')}${String(microsecond).padStart(3, '0')}+00`;
      const plan = index % 3 === 0 ? ['validate', 'analyze'] : ['validate'];
      await query(
        `insert into processing_objects (id, identifier, state, operations, plan, progress, created_at)
           values ($1, $2, $3, $4, $4, '{"current":0,"total":1,"message":""}', $5)`,
        [randomUUID(), `${prefix}-${index}`, index % 2 === 0 ? 'completed' : 'failed', JSON.stringify(plan), createdAt],
      );
    }
  });

  afterAll(async () => {
    // Dated 2031, they would head every newest-first list of the test files that run after this one (the /ui page's).
    await query('delete from processing_objects where identifier like $1', [`${prefix}-%`]);
    await service?.close();
    await closeDatabase();
  });

  async function expected(where = '', params: unknown[] = []): Promise<string[]> {
    const rows = await query<{ id: string }>(
      `select id from processing_objects where identifier like $1 ${where} order by created_at desc, id desc`,
      [`${prefix}-%`, ...params],
    );
    return rows.map((row) => row.id);
  }

  async function pageThrough(filters: Record<string, string | number>, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page <= OBJECTS; page++) {
      const response = await request(service.baseUrl)
        .get('/api/v1/objects')
        .query({ identifier_prefix: `${prefix}-`, ...filters, limit, ...(cursor ? { cursor } : {}) })
        .expect(200);
      const body = response.body as components['schemas']['ObjectListResponse'];
      seen.push(...body.items.map((item) => item.id));
      cursor = body.next_cursor ?? undefined;
      if (!cursor) {
        return seen;
      }
    }
    throw new Error('paging did not end');
  }

  it.each([1, 7, 30, 100])('returns every object exactly once, newest first, with limit=%d', async (limit) => {
    expect(await pageThrough({}, limit)).toEqual(await expected());
  });

  it('returns every matching object exactly once with filters', async () => {
    expect(await pageThrough({ state: 'failed' }, 1)).toEqual(await expected(`and state = 'failed'`));
    expect(await pageThrough({ operation: 'analyze' }, 3)).toEqual(await expected(`and plan @> '["analyze"]'`));
    const after = '2031-01-01T00:00:00.002Z';
    const before = '2031-01-01T00:00:00.007Z';
    const inWindow = await expected('and created_at >= $2 and created_at < $3', [after, before]);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(await pageThrough({ created_after: after, created_before: before, state: 'completed' }, 1)).toEqual(
      await expected(`and created_at >= $2 and created_at < $3 and state = 'completed'`, [after, before]),
    );
  });

  it('keeps reading cursors made with millisecond timestamps', async () => {
    const [newest] = await query<{ id: string }>(
      `select id from processing_objects where identifier like $1 order by created_at desc, id desc limit 1`,
      [`${prefix}-%`],
    );
    const cursor = Buffer.from(JSON.stringify(['2031-01-01T00:00:00.009Z', newest!.id])).toString('base64url');
    const response = await request(service.baseUrl)
      .get('/api/v1/objects')
      .query({ identifier_prefix: `${prefix}-`, cursor, limit: 100 })
      .expect(200);
    expect((response.body as components['schemas']['ObjectListResponse']).items.map((item: { id: string }) => item.id)).toEqual(
      (await expected(`and created_at < '2031-01-01T00:00:00.009Z'`)).slice(0, 100),
    );
  });
});
