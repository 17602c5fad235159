import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import type { ObjectNotifications } from '../notifications/object-notifications';
import type { ObjectEventRecord } from '../objects/object-event.entity';
import type { ObjectPatch, SweepPosition, UnsettledObject, UnsettledState } from '../objects/object-records';
import type { ObjectStateStore } from '../objects/object-state-store';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ObjectState } from '../objects/object-state';
import type { JobFate } from '../queue/jobs';
import type { ObjectToQueue } from '../queue/object-job';
import type { ProcessingQueue } from '../queue/processing-queue';
import { recoveryFor } from './job-recovery';
import { QueueReconciler, RECONCILE_BATCH } from './queue-reconciler';

const LONG_AGO = new Date(Date.now() - 3600_000);

interface FakeRow extends UnsettledObject {
  errorMessage?: string;
}

/** Objects held in memory, read and changed the way the repository's sweep and the state store's conditional update do. */
function fakeObjects(rows: FakeRow[]) {
  const reads: number[] = [];
  const repository = {
    findUnsettledAfter(state: UnsettledState, after: SweepPosition | null, limit: number) {
      const page = rows.filter((row) => row.state === state && (!after || row.position.id > after.id)).slice(0, limit);
      reads.push(page.length);
      return Promise.resolve(page.map((row) => ({ ...row })));
    },
    updateWhileTask(change: { id: string; taskId: string; states: readonly UnsettledState[]; to?: ObjectState }, patch: ObjectPatch) {
      const row = rows.find((candidate) => candidate.id === change.id);
      if (!row || row.taskId !== change.taskId || !change.states.includes(row.state)) {
        return Promise.resolve(null);
      }
      if (change.to) {
        row.state = change.to as UnsettledState;
      }
      if (patch.taskId) {
        row.taskId = patch.taskId;
      }
      if (patch.incrementAttempts) {
        row.attempts += 1;
      }
      if (patch.errorMessage) {
        row.errorMessage = patch.errorMessage;
      }
      row.updatedAt = new Date();
      return Promise.resolve({ seq: 2, kind: 'state_changed', operation: null, snapshot: {} } as unknown as ObjectEventRecord);
    },
  };
  return { repository: repository as unknown as ObjectsRepository, reads };
}

/** A queue that knows the fate of some job ids and records what is added. */
function fakeQueue(fates: Record<string, JobFate>) {
  const added: string[] = [];
  const queued: ObjectToQueue[] = [];
  const queue = {
    jobFate(jobId: string) {
      return Promise.resolve(fates[jobId] ?? { state: 'unknown' });
    },
    enqueue(object: ObjectToQueue) {
      added.push(object.taskId);
      queued.push(object);
      fates[object.taskId] = { state: 'waiting' };
      return Promise.resolve();
    },
  };
  return { queue: queue as unknown as ProcessingQueue, added, queued };
}

function row(id: string, state: UnsettledState, overrides: Partial<FakeRow> = {}): FakeRow {
  return {
    id,
    state,
    taskId: `${id}.1`,
    priority: 0,
    attempts: 1,
    updatedAt: LONG_AGO,
    position: { createdAt: '2026-01-01', id },
    ...overrides,
  };
}

/** `published` receives the id of each object whose recorded change the reconciler publishes. */
function reconcilerWith(repository: ObjectsRepository, queue: ProcessingQueue, published: string[] = []): QueueReconciler {
  const notifications = {
    publishRecorded: (id: string) => {
      published.push(id);
      return Promise.resolve();
    },
  } as unknown as ObjectNotifications;
  const pino = { runInContext: (work: () => void) => work() } as unknown as PinoLogger;
  return new QueueReconciler(new AppConfig({}), repository, repository as unknown as ObjectStateStore, queue, notifications, pino);
}

describe('recoveryFor', () => {
  it.each(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const)(
    'leaves an object whose job is %s alone',
    (state) => {
      expect(recoveryFor('processing', { state })).toEqual({ action: 'none' });
    },
  );

  it('adds an absent job again under its own id', () => {
    expect(recoveryFor('queued', { state: 'unknown' })).toEqual({ action: 'add' });
  });

  it('replaces a completed job that left its object unsettled', () => {
    expect(recoveryFor('queued', { state: 'completed' }).action).toBe('requeue');
  });

  it('replaces a job the queue gave up on after its attempts ran out', () => {
    expect(recoveryFor('processing', { state: 'failed', failedReason: 'connect ECONNREFUSED 127.0.0.1:5432' })).toEqual({
      action: 'requeue',
      reason: 'its job was given up by the queue (connect ECONNREFUSED 127.0.0.1:5432)',
    });
  });

  it('fails a processing object whose job stalled out, saying it can be retried', () => {
    const recovery = recoveryFor('processing', { state: 'failed', failedReason: 'job stalled more than allowable limit' });
    expect(recovery).toEqual({
      action: 'fail',
      reason: expect.stringMatching(/worker stopped while running it too many times.*retry the object/) as unknown,
    });
  });

  it('replaces the stalled-out job of an object that never left queued (queued cannot become failed)', () => {
    expect(recoveryFor('queued', { state: 'failed', failedReason: 'job stalled more than allowable limit' }).action).toBe('requeue');
  });
});

describe('QueueReconciler', () => {
  it('re-adds an absent job under the same id, and gives a dead job’s object a fresh job id', async () => {
    const { repository } = fakeObjects([row('a', 'queued'), row('b', 'processing'), row('c', 'processing')]);
    const { queue, added } = fakeQueue({ 'b.1': { state: 'failed', failedReason: 'ECONNREFUSED' }, 'c.1': { state: 'active' } });

    await reconcilerWith(repository, queue).reconcile();

    expect(added).toEqual(['a.1', 'b.2']);
  });

  it('fails a processing object whose job stalled out, and adds no job for it', async () => {
    const rows = [row('a', 'processing')];
    const { repository } = fakeObjects(rows);
    const { queue, added } = fakeQueue({ 'a.1': { state: 'failed', failedReason: 'job stalled more than allowable limit' } });

    await reconcilerWith(repository, queue).reconcile();

    expect(rows[0]).toMatchObject({ state: 'failed', errorMessage: expect.stringMatching(/retry the object/) as unknown });
    expect(added).toEqual([]);
  });

  it('does not touch an object changed within the settle time (its enqueue may be under way)', async () => {
    const { repository } = fakeObjects([row('a', 'queued', { updatedAt: new Date() })]);
    const { queue, added } = fakeQueue({});

    await reconcilerWith(repository, queue).reconcile();

    expect(added).toEqual([]);
  });

  it('replaces a dead job once even when two reconcilers see it', async () => {
    const { repository } = fakeObjects([row('a', 'processing')]);
    const { queue, added } = fakeQueue({ 'a.1': { state: 'completed' } });
    const first = reconcilerWith(repository, queue);
    const second = reconcilerWith(repository, queue);

    await Promise.all([first.reconcile(), second.reconcile()]);

    expect(added).toEqual(['a.2']);
  });

  it('reads one batch per state and tick, continuing the sweep where the last tick stopped', async () => {
    const healthy = Array.from({ length: RECONCILE_BATCH }, (_, index) => row(`a${String(index).padStart(4, '0')}`, 'queued'));
    const stranded = row('b', 'queued');
    const { repository, reads } = fakeObjects([...healthy, stranded]);
    const { queue, added } = fakeQueue(
      Object.fromEntries(healthy.map((object): [string, JobFate] => [object.taskId!, { state: 'waiting' }])),
    );
    const reconciler = reconcilerWith(repository, queue);

    await reconciler.reconcile();
    expect(added).toEqual([]);
    await reconciler.reconcile();

    expect(added).toEqual(['b.1']);
    expect(Math.max(...reads)).toBe(RECONCILE_BATCH);
  });

  describe('each fate of an idle object’s job, and what the reconciler does', () => {
    it.each(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const)(
      '%s: leaves the object and its job alone',
      async (state) => {
        const rows = [row('a', 'processing')];
        const { repository } = fakeObjects(rows);
        const { queue, added } = fakeQueue({ 'a.1': { state } });
        const published: string[] = [];

        await reconcilerWith(repository, queue, published).reconcile();

        expect(added).toEqual([]);
        expect(published).toEqual([]);
        expect(rows[0]).toMatchObject({ state: 'processing', taskId: 'a.1', attempts: 1 });
      },
    );

    it.each(['queued', 'processing'] as const)(
      'absent, the object %s: adds the job again under its id and priority, the object unchanged',
      async (state) => {
        const rows = [row('a', state, { priority: 9 })];
        const { repository } = fakeObjects(rows);
        const { queue, queued } = fakeQueue({});
        const published: string[] = [];

        await reconcilerWith(repository, queue, published).reconcile();

        expect(queued).toEqual([{ id: 'a', taskId: 'a.1', priority: 9 }]);
        expect(published).toEqual([]);
        expect(rows[0]).toMatchObject({ state, taskId: 'a.1', attempts: 1 });
      },
    );

    it.each([
      ['completed without settling the object', { state: 'completed' }],
      ['given up by the queue', { state: 'failed', failedReason: 'connect ECONNREFUSED 127.0.0.1:5432' }],
    ] as const)(
      '%s: gives the object its next run under a fresh job id, with its priority, and publishes the change',
      async (_fate, fate: JobFate) => {
        const rows = [row('a', 'processing', { priority: 2 })];
        const { repository } = fakeObjects(rows);
        const { queue, queued } = fakeQueue({ 'a.1': fate });
        const published: string[] = [];

        await reconcilerWith(repository, queue, published).reconcile();

        expect(queued).toEqual([{ id: 'a', taskId: 'a.2', priority: 2 }]);
        expect(rows[0]).toMatchObject({ state: 'processing', taskId: 'a.2', attempts: 2 });
        expect(published).toEqual(['a']);
      },
    );

    it('stalled out while the object is queued: queues it again rather than failing it', async () => {
      const rows = [row('a', 'queued')];
      const { repository } = fakeObjects(rows);
      const { queue, added } = fakeQueue({ 'a.1': { state: 'failed', failedReason: 'job stalled more than allowable limit' } });

      await reconcilerWith(repository, queue).reconcile();

      expect(added).toEqual(['a.2']);
      expect(rows[0]).toMatchObject({ state: 'queued', taskId: 'a.2' });
    });

    it('stalled out while the object is processing: fails the object, publishes the change and adds no job', async () => {
      const rows = [row('a', 'processing')];
      const { repository } = fakeObjects(rows);
      const { queue, added } = fakeQueue({ 'a.1': { state: 'failed', failedReason: 'job stalled more than allowable limit' } });
      const published: string[] = [];

      await reconcilerWith(repository, queue, published).reconcile();

      expect(rows[0]).toMatchObject({ state: 'failed', taskId: 'a.1' });
      expect(published).toEqual(['a']);
      expect(added).toEqual([]);
    });

    it('dead, but the object was given another run meanwhile (retried by hand): changes nothing', async () => {
      const rows = [row('a', 'processing')];
      const { repository } = fakeObjects(rows);
      const { queue, added } = fakeQueue({ 'a.1': { state: 'completed' } });
      const reconciler = reconcilerWith(repository, queue);
      const sweep = repository.findUnsettledAfter.bind(repository);
      repository.findUnsettledAfter = async (...args: Parameters<ObjectsRepository['findUnsettledAfter']>) => {
        const page = await sweep(...args);
        if (page.length > 0) {
          rows[0]!.taskId = 'a.5';
        }
        return page;
      };

      await reconciler.reconcile();

      expect(added).toEqual([]);
      expect(rows[0]).toMatchObject({ taskId: 'a.5', attempts: 1 });
    });
  });
});
