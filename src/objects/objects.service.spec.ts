import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from '../common/error-codes';
import { ObjectNotFoundError } from '../common/domain-errors';
import type { ObjectChange, ObjectNotifications } from '../notifications/object-notifications';
import type { OperationCatalog } from '../operations/operation-catalog';
import type { ObjectToQueue } from '../queue/object-job';
import type { ProcessingQueue } from '../queue/processing-queue';
import type { StorageService } from '../storage/storage.service';
import { TeamQueueFullError } from '../access/access-errors';
import type { Principal } from '../access/principal';
import type { ArtifactsService } from './artifacts.service';
import { ObjectState, statesLeadingTo } from './object-state';
import type { ObjectEventRecord } from './object-event.entity';
import type { ObjectListFilter, ObjectPatch } from './object-records';
import type { ObjectStateStore } from './object-state-store';
import type { ObjectsRepository } from './objects.repository';
import { ObjectsService } from './objects.service';
import type { ProcessingObject } from './processing-object.entity';
import type { TeamQueueCap } from './team-queue-cap';
import { InvalidTransitionError } from '../common/domain-errors';

const TEAM = 'team-a';
const WRITER: Principal = { keyId: 'key-a', keyName: 'writer', team: TEAM, scopes: ['read', 'write'] };
const OTHER_TEAM_WRITER: Principal = { keyId: 'key-b', keyName: 'other', team: 'team-b', scopes: ['read', 'write'] };
const PLAN = ['validate', 'transform', 'export'];

/** The objects table, changed only as the repository's conditional statements change it. */
class FakeObjects {
  readonly rows = new Map<string, ProcessingObject>();
  /** Runs just before a conditional delete, as a concurrent request would. */
  beforeDelete?: (row: ProcessingObject) => void;
  private seq = 0;

  add(id: string, state: ObjectState, fields: Partial<ProcessingObject> = {}): ProcessingObject {
    const row = {
      id,
      identifier: `doc-${id.slice(-4)}`,
      team: TEAM,
      state,
      operations: PLAN,
      plan: PLAN,
      taskId: `${id}.1`,
      attempts: 1,
      priority: 5,
      operationsStatus: {},
      s3Artifacts: {},
      progress: { current: 0, total: PLAN.length, message: '' },
      metadata: {},
      options: {},
      createdAt: new Date(0),
      updatedAt: new Date(0),
      ...fields,
    };
    this.rows.set(id, row as unknown as ProcessingObject);
    return this.rows.get(id)!;
  }

  findById(id: string): Promise<ProcessingObject | null> {
    const row = this.rows.get(id);
    return Promise.resolve(row ? { ...row } : null);
  }

  async getById(id: string): Promise<ProcessingObject> {
    const row = await this.findById(id);
    if (!row) {
      throw new ObjectNotFoundError(id);
    }
    return row;
  }

  findByIdentifier(identifier: string): Promise<ProcessingObject | null> {
    const row = [...this.rows.values()].find((candidate) => candidate.identifier === identifier);
    return Promise.resolve(row ? { ...row } : null);
  }

  transition(id: string, to: ObjectState, patch: ObjectPatch = {}, from?: ObjectState[]): Promise<ObjectEventRecord> {
    const row = this.rows.get(id);
    if (!row) {
      return Promise.reject(new ObjectNotFoundError(id));
    }
    if (!(from ?? statesLeadingTo(to)).includes(row.state)) {
      return Promise.reject(new InvalidTransitionError(row.state, to));
    }
    Object.assign(
      row,
      { state: to },
      patch.taskId ? { taskId: patch.taskId } : {},
      patch.incrementAttempts ? { attempts: row.attempts + 1 } : {},
    );
    return Promise.resolve({
      seq: ++this.seq,
      kind: 'state_changed',
      operation: null,
      snapshot: { state: to },
    } as unknown as ObjectEventRecord);
  }

  deleteById(id: string, states: readonly ObjectState[]): Promise<boolean> {
    const row = this.rows.get(id);
    if (row) {
      this.beforeDelete?.(row);
    }
    return Promise.resolve(row !== undefined && states.includes(row.state) && this.rows.delete(id));
  }

  list(filter: ObjectListFilter): Promise<{ object: ProcessingObject; position: unknown }[]> {
    return Promise.resolve(
      [...this.rows.values()]
        .filter((row) => row.state === filter.state && (filter.team === undefined || row.team === filter.team))
        .slice(0, filter.limit)
        .map((row) => ({ object: { ...row }, position: null })),
    );
  }
}

/** Job ids in the queue; `down` makes adding fail, as an unreachable Redis would. */
class FakeQueue {
  readonly jobs = new Set<string>();
  down = false;

  removeJob(jobId: string): Promise<boolean> {
    return Promise.resolve(this.jobs.delete(jobId));
  }

  enqueue(object: ObjectToQueue): Promise<void> {
    if (this.down) {
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    }
    this.jobs.add(object.taskId);
    return Promise.resolve();
  }
}

/** The bucket's keys; `down` makes every call fail. */
class FakeStorage {
  readonly keys = new Set<string>();
  down = false;

  deletePrefix(prefix: string): Promise<number> {
    return this.unlessDown(() => {
      const matching = [...this.keys].filter((key) => key.startsWith(prefix));
      matching.forEach((key) => this.keys.delete(key));
      return matching.length;
    });
  }

  deleteKeys(keys: string[]): Promise<void> {
    return this.unlessDown(() => {
      keys.forEach((key) => this.keys.delete(key));
    });
  }

  /** Does `work` and answers its result, or fails as an unreachable S3 would. */
  private unlessDown<T>(work: () => T): Promise<T> {
    return this.down ? Promise.reject(new Error('connect ECONNREFUSED s3')) : Promise.resolve(work());
  }
}

/** What was published: cancellation requests and changes. */
class FakeEvents {
  readonly cancellations: string[] = [];
  readonly changes: ObjectChange[] = [];

  requestCancellation(id: string): Promise<void> {
    this.cancellations.push(id);
    return Promise.resolve();
  }

  publishRecorded(id: string, event: ObjectEventRecord): Promise<void> {
    this.changes.push({ id, version: event.seq, event });
    return Promise.resolve();
  }

  publishChange(change: ObjectChange): Promise<void> {
    this.changes.push(change);
    return Promise.resolve();
  }
}

function setUp() {
  const objects = new FakeObjects();
  const queue = new FakeQueue();
  const storage = new FakeStorage();
  const events = new FakeEvents();
  const teamQueue = {
    full: false,
    check: (team: string) => {
      if (teamQueue.full) {
        return Promise.reject(new TeamQueueFullError(team, 1, 5));
      }
      return Promise.resolve();
    },
  };
  const service = new ObjectsService(
    objects as unknown as ObjectsRepository,
    objects as unknown as ObjectStateStore,
    queue as unknown as ProcessingQueue,
    events as unknown as ObjectNotifications,
    storage as unknown as StorageService,
    {} as ArtifactsService,
    { names: PLAN } as unknown as OperationCatalog,
    teamQueue as unknown as TeamQueueCap,
  );
  /** An object with its job in the queue and two artifacts in the bucket. */
  const stored = (id: string, state: ObjectState, fields: Partial<ProcessingObject> = {}) => {
    const row = objects.add(id, state, fields);
    queue.jobs.add(row.taskId!);
    storage.keys.add(`${row.identifier}/source/payload.json`).add(`${row.identifier}/validate_result.json`);
    return row;
  };
  return { service, objects, queue, storage, events, teamQueue, stored };
}

const ID = '00000000-0000-4000-8000-00000000000a';

describe('ObjectsService', () => {
  describe('delete', () => {
    it('refuses a processing object with 409 object_busy and leaves it, its job and its artifacts alone', async () => {
      const { service, objects, queue, storage, events, stored } = setUp();
      stored(ID, 'processing');

      await expect(service.delete(ID, WRITER)).rejects.toMatchObject({
        status: HttpStatus.CONFLICT,
        code: ErrorCode.ObjectBusy,
        details: { current_state: 'processing' },
      });
      expect(objects.rows.get(ID)?.state).toBe('processing');
      expect(queue.jobs.size).toBe(1);
      expect(storage.keys.size).toBe(2);
      expect(events.cancellations).toEqual([]);
    });

    it('cancels a queued object first, then removes its job, its artifacts and its row, and tells followers it is gone', async () => {
      const { service, objects, queue, storage, events, stored } = setUp();
      stored(ID, 'queued');

      await service.delete(ID, WRITER);

      expect(events.cancellations).toEqual([ID]);
      expect(events.changes.map((change) => change.event?.snapshot.state ?? change.version)).toEqual([
        'cancelled',
        Number.MAX_SAFE_INTEGER,
      ]);
      expect(objects.rows.size).toBe(0);
      expect(queue.jobs.size).toBe(0);
      expect(storage.keys.size).toBe(0);
    });

    it('removes a settled object with its kept job and its artifacts, without cancelling it', async () => {
      for (const state of ['completed', 'failed', 'cancelled'] as const) {
        const { service, objects, queue, storage, events, stored } = setUp();
        stored(ID, state);
        storage.keys.add('doc-other/validate_result.json');

        await service.delete(ID, WRITER);

        expect({
          state,
          rows: objects.rows.size,
          jobs: queue.jobs.size,
          keys: [...storage.keys],
          cancellations: events.cancellations,
        }).toEqual({
          state,
          rows: 0,
          jobs: 0,
          keys: ['doc-other/validate_result.json'],
          cancellations: [],
        });
      }
    });

    it('is 409 object_busy when the object was retried while being deleted, and keeps its row', async () => {
      const { service, objects, stored } = setUp();
      stored(ID, 'failed');
      objects.beforeDelete = (row) => Object.assign(row, { state: 'queued' });

      await expect(service.delete(ID, WRITER)).rejects.toMatchObject({
        code: ErrorCode.ObjectBusy,
        message: expect.stringContaining("changed to 'queued'") as unknown,
      });
      expect(objects.rows.get(ID)?.state).toBe('queued');
    });

    it('succeeds when a concurrent delete removed the row first', async () => {
      const { service, objects, stored } = setUp();
      stored(ID, 'completed');
      objects.beforeDelete = (row) => objects.rows.delete(row.id);

      await expect(service.delete(ID, WRITER)).resolves.toBeUndefined();
    });

    it('is 503 when object storage is down, and keeps the row so that the delete can be sent again', async () => {
      const { service, objects, storage, stored } = setUp();
      stored(ID, 'completed');
      storage.down = true;

      await expect(service.delete(ID, WRITER)).rejects.toMatchObject({
        status: HttpStatus.SERVICE_UNAVAILABLE,
        code: ErrorCode.DependencyUnavailable,
      });
      expect(objects.rows.has(ID)).toBe(true);
    });

    it("is 404 for another team's object, as for a missing one, and removes nothing", async () => {
      const { service, objects, stored } = setUp();
      stored(ID, 'completed');

      await expect(service.delete(ID, OTHER_TEAM_WRITER)).rejects.toMatchObject({
        status: HttpStatus.NOT_FOUND,
        code: ErrorCode.ObjectNotFound,
      });
      await expect(service.deleteByReference('no-such-doc', WRITER)).rejects.toMatchObject({ status: HttpStatus.NOT_FOUND });
      expect(objects.rows.has(ID)).toBe(true);
    });

    it('by reference, deletes the object an identifier names', async () => {
      const { service, objects, stored } = setUp();
      stored(ID, 'completed', { identifier: 'report-7' });

      await service.deleteByReference('report-7', WRITER);
      expect(objects.rows.size).toBe(0);
    });
  });

  describe('findByReference', () => {
    it('looks a UUID up as an id first, then as an identifier; anything else as an identifier', async () => {
      const { service, objects } = setUp();
      const LOOKS_LIKE_AN_ID = '00000000-0000-4000-8000-0000000000ff';
      objects.add(ID, 'completed', { identifier: 'plain' });
      objects.add('00000000-0000-4000-8000-00000000000b', 'completed', { identifier: LOOKS_LIKE_AN_ID });

      expect((await service.findByReference(ID, WRITER)).id).toBe(ID);
      expect((await service.findByReference(LOOKS_LIKE_AN_ID, WRITER)).id).toBe('00000000-0000-4000-8000-00000000000b');
      expect((await service.findByReference('plain', WRITER)).id).toBe(ID);
    });

    it('is 400 invalid_identifier for something that is neither, and 404 for another team', async () => {
      const { service, objects } = setUp();
      objects.add(ID, 'completed', { identifier: 'plain' });

      await expect(service.findByReference('not an identifier!', WRITER)).rejects.toMatchObject({
        status: HttpStatus.BAD_REQUEST,
        code: ErrorCode.InvalidIdentifier,
      });
      await expect(service.findByReference('plain', OTHER_TEAM_WRITER)).rejects.toMatchObject({ status: HttpStatus.NOT_FOUND });
      await expect(service.findByReference(ID, OTHER_TEAM_WRITER)).rejects.toMatchObject({ status: HttpStatus.NOT_FOUND });
    });
  });

  describe('retry', () => {
    it("queues a failed object again with a new job; from=<operation> removes that operation's results and every later one's", async () => {
      const { service, objects, queue, storage, stored } = setUp();
      stored(ID, 'failed');
      const identifier = objects.rows.get(ID)!.identifier;
      storage.keys.add(`${identifier}/transform_result.json`).add(`${identifier}/export/part-1.csv`);

      const view = await service.retry(ID, { from: 'transform' }, WRITER);

      expect(view.state).toBe('queued');
      expect(queue.jobs).toContain(`${ID}.2`);
      expect([...storage.keys].sort()).toEqual([`${identifier}/source/payload.json`, `${identifier}/validate_result.json`]);
    });

    it('answers queued even when the job cannot be added (the reconciler adds it later)', async () => {
      const { service, objects, queue, stored } = setUp();
      stored(ID, 'failed');
      queue.down = true;

      await expect(service.retry(ID, {}, WRITER)).resolves.toMatchObject({ state: 'queued' });
      expect(objects.rows.get(ID)?.state).toBe('queued');
    });

    it('refuses what is not failed (409), an operation outside the plan (400) and a full team queue (429), changing nothing', async () => {
      const { service, objects, teamQueue, stored } = setUp();
      stored(ID, 'completed');
      await expect(service.retry(ID, {}, WRITER)).rejects.toMatchObject({ status: HttpStatus.CONFLICT, code: ErrorCode.InvalidTransition });

      objects.rows.get(ID)!.state = 'failed';
      await expect(service.retry(ID, { from: 'thumbnail' }, WRITER)).rejects.toMatchObject({ status: HttpStatus.BAD_REQUEST });
      teamQueue.full = true;
      await expect(service.retry(ID, {}, WRITER)).rejects.toMatchObject({ status: HttpStatus.TOO_MANY_REQUESTS });
      expect(objects.rows.get(ID)).toMatchObject({ state: 'failed', attempts: 1 });
    });
  });

  describe('retryMatching', () => {
    it('retries the matching failed objects and skips one that stopped being failed meanwhile', async () => {
      const { service, objects, stored } = setUp();
      const [first, second] = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
      stored(first, 'failed');
      stored(second, 'failed');
      const list = objects.list.bind(objects);
      objects.list = async (filter) => {
        const listed = await list(filter);
        objects.rows.get(second)!.state = 'queued'; // retried by someone else after the listing
        return listed;
      };

      await expect(service.retryMatching({}, 10, false, WRITER)).resolves.toEqual({ retried: 1, ids: [first], more: false });
    });
  });
});
