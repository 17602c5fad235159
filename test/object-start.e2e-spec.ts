import request from 'supertest';
import { ObjectStateStore } from '../src/objects/object-state-store';
import { closeDatabase, query } from './support/database';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';

/** What a recorded event holds, as the table keeps it and startProcessing returns it. */
interface EventRow extends Record<string, unknown> {
  seq: number;
  kind: string;
  operation: string | null;
  snapshot: Record<string, unknown>;
}

/**
 * The start of a job as one statement (ObjectStateStore.startProcessing): the object moves from queued to processing
 * and its first operation not completed yet starts, each change recorded as an event with its own snapshot, exactly as
 * the two statements it replaces recorded them. Against the real PostgreSQL, with no worker running: the test takes the
 * worker's place.
 */
describe('starting a queued object', () => {
  let service: TestApp;
  let store: ObjectStateStore;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
    store = service.app.get(ObjectStateStore);
  });

  afterAll(async () => {
    await service.close();
    await closeDatabase();
  });

  const submitted = async (label: string) => {
    const response = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({ identifier: uniqueIdentifier(label), operations: ['export'], payload: { records: [{ a: 1 }] } })
      .expect(202);
    return response.body as { id: string; task_id: string };
  };
  const eventsOf = (id: string) =>
    query<EventRow>('select seq, kind, operation, snapshot from object_events where object_id = $1 order by seq', [id]);
  const rowOf = async (id: string) =>
    (
      await query<{ state: string; version: number; started_at: Date | null; current_operation: string | null; operations_status: object }>(
        'select state, version, started_at, current_operation, operations_status from processing_objects where id = $1',
        [id],
      )
    )[0]!;
  const at = new Date('2026-12-06T05:00:00.123Z');

  it('moves a new object to processing and starts its first operation, recording both changes in order', async () => {
    const { id, task_id: taskId } = await submitted('fresh');
    const started = await store.startProcessing(id, taskId, { markStarted: true, progressMessage: 'Processing' }, at);

    expect(started?.startedOperation).toBe('validate');
    const validate = { completed: false, started_at: at.toISOString(), attempts: 1, error: null };
    expect(started?.object).toMatchObject({ id, taskId, state: 'processing', operationsStatus: { validate } });
    expect(started?.object.plan).toEqual(['validate', 'transform', 'enrich', 'analyze', 'export']);
    expect(Buffer.from(started!.object.sourceInline!).toString()).toBe('{"records":[{"a":1}]}');

    const recorded = await eventsOf(id);
    expect(started?.events).toEqual(recorded);
    expect(recorded.map(({ kind, operation }) => [kind, operation])).toEqual([
      ['state_changed', null],
      ['operation_started', 'validate'],
    ]);
    expect(recorded[0]!.snapshot).toMatchObject({
      state: 'processing',
      currentOperation: null,
      progress: { current: 0, total: 5, message: 'Processing' },
      operationsStatus: {},
      s3Artifacts: {},
    });
    expect(recorded[1]!.snapshot).toMatchObject({
      state: 'processing',
      currentOperation: 'validate',
      progress: { current: 0, total: 5, message: 'Executing validate' },
      operationsStatus: { validate },
    });

    const row = await rowOf(id);
    expect(row).toMatchObject({
      state: 'processing',
      version: recorded[1]!.seq,
      current_operation: 'validate',
      operations_status: { validate },
    });
    expect(row.started_at).not.toBeNull();
    expect(recorded[1]!.seq).toBe(recorded[0]!.seq + 1);
    const progress = await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200);
    expect(progress.body).toMatchObject({ state: 'processing', current_operation: 'validate', operations_status: { validate } });
  });

  it('resumes a handed-back object at its first operation not completed, counting that operation’s attempts on', async () => {
    const { id, task_id: taskId } = await submitted('handed-back');
    const validate = { completed: true, started_at: '2026-12-06T04:00:00.000Z', attempts: 1, error: null };
    const transform = { completed: false, started_at: '2026-12-06T04:00:01.000Z', attempts: 2, error: 'S3 was down' };
    await query(`update processing_objects set operations_status = $2::jsonb, current_operation = 'transform' where id = $1`, [
      id,
      JSON.stringify({ validate, transform }),
    ]);

    const started = await store.startProcessing(id, taskId, { markStarted: true, progressMessage: 'Processing' }, at);

    expect(started?.startedOperation).toBe('transform');
    const restarted = { completed: false, started_at: at.toISOString(), attempts: 3, error: null };
    expect(started?.object.operationsStatus).toEqual({ validate, transform: restarted });
    const recorded = await eventsOf(id);
    expect(recorded.map(({ kind, operation }) => [kind, operation])).toEqual([
      ['state_changed', null],
      ['operation_started', 'transform'],
    ]);
    expect(recorded[0]!.snapshot).toMatchObject({ currentOperation: 'transform', operationsStatus: { validate, transform } });
    expect(recorded[1]!.snapshot).toMatchObject({ currentOperation: 'transform', operationsStatus: { validate, transform: restarted } });
  });

  it('only moves an object whose every operation is completed: nothing is left to start', async () => {
    const { id, task_id: taskId } = await submitted('all-done');
    const done = { completed: true, started_at: '2026-12-06T04:00:00.000Z', attempts: 1, error: null };
    const statuses = Object.fromEntries(['validate', 'transform', 'enrich', 'analyze', 'export'].map((operation) => [operation, done]));
    await query(`update processing_objects set operations_status = $2::jsonb, current_operation = 'export' where id = $1`, [
      id,
      JSON.stringify(statuses),
    ]);

    const started = await store.startProcessing(id, taskId, { markStarted: true, progressMessage: 'Processing' }, at);

    expect(started?.startedOperation).toBeNull();
    expect(started?.object.operationsStatus).toEqual(statuses);
    const recorded = await eventsOf(id);
    expect(started?.events).toEqual(recorded);
    expect(recorded.map(({ kind, operation }) => [kind, operation])).toEqual([['state_changed', null]]);
    expect(await rowOf(id)).toMatchObject({ state: 'processing', version: recorded[0]!.seq, current_operation: 'export' });
  });

  it('changes and records nothing for another job, or for an object no longer queued', async () => {
    const { id, task_id: taskId } = await submitted('not-mine');
    expect(await store.startProcessing(id, `${taskId}-other`, { markStarted: true, progressMessage: 'Processing' }, at)).toBeNull();
    expect(await eventsOf(id)).toEqual([]);
    expect(await rowOf(id)).toMatchObject({ state: 'queued', version: 1, started_at: null, operations_status: {} });

    expect(await store.startProcessing(id, taskId, { markStarted: true, progressMessage: 'Processing' }, at)).not.toBeNull();
    expect(await store.startProcessing(id, taskId, { markStarted: true, progressMessage: 'Processing' }, at)).toBeNull();
    expect(await eventsOf(id)).toHaveLength(2);
  });
});
