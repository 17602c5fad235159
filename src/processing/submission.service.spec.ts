import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from '../common/error-codes';
import { AppConfig } from '../config/app-config';
import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { NewObject, ObjectPatch, QueuedFields } from '../objects/object-records';
import type { ObjectStateStore } from '../objects/object-state-store';
import type { ObjectsRepository } from '../objects/objects.repository';
import type { ObjectState } from '../objects/object-state';
import type { ProcessingObject } from '../objects/processing-object.entity';
import type { TeamQueueCap } from '../objects/team-queue-cap';
import type { OperationCatalog } from '../operations/operation-catalog';
import type { ObjectToQueue } from '../queue/object-job';
import type { ProcessingQueue } from '../queue/processing-queue';
import type { StorageService } from '../storage/storage.service';
import type { WebhooksService } from '../webhooks/webhooks.service';
import type { SubmitObjectDto } from './dto/submit-object.dto';
import type { ClaimedKey, IdempotencyKeysRepository, KeptSubmission } from './idempotency-keys.repository';
import { SubmissionService } from './submission.service';

const TEAM = 'team-a';
const OTHER_TEAM = 'team-b';

/** The objects table: one row per identifier, as its unique index keeps it. */
class FakeObjects {
  readonly rows = new Map<string, ProcessingObject>();

  insertQueued(object: NewObject, queued: QueuedFields): Promise<void> {
    this.insert(object, 'queued', queued);
    return Promise.resolve();
  }

  insertPending(object: NewObject): Promise<void> {
    this.insert(object, 'pending', { taskId: '', source: null });
    return Promise.resolve();
  }

  transition(id: string, to: ObjectState, patch: ObjectPatch, from: ObjectState[]): Promise<void> {
    const row = this.rows.get(id);
    if (!row || !from.includes(row.state)) {
      return Promise.reject(new Error(`object ${id} is not ${from.join(' or ')}`));
    }
    this.rows.set(id, { ...row, ...patch, state: to });
    return Promise.resolve();
  }

  findByIdentifier(identifier: string): Promise<ProcessingObject | null> {
    return Promise.resolve([...this.rows.values()].find((row) => row.identifier === identifier) ?? null);
  }

  deleteById(id: string, states: readonly ObjectState[]): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || !states.includes(row.state)) {
      return Promise.resolve(false);
    }
    return Promise.resolve(this.rows.delete(id));
  }

  private insert(object: NewObject, state: ObjectState, queued: QueuedFields): void {
    this.checkIdentifierFree(object.identifier);
    this.rows.set(object.id, { ...object, ...queued, state } as unknown as ProcessingObject);
  }

  private checkIdentifierFree(identifier: string): void {
    if ([...this.rows.values()].some((row) => row.identifier === identifier)) {
      throw new UniqueConstraintViolationException(new Error(`duplicate key value violates unique constraint: identifier ${identifier}`));
    }
  }
}

/** The bucket: stored keys and their bodies. */
class FakeStorage {
  readonly objects = new Map<string, Buffer>();

  s3Url(key: string): string {
    return `s3://bucket/${key}`;
  }

  putBuffer(key: string, body: Buffer): Promise<void> {
    this.objects.set(key, body);
    return Promise.resolve();
  }

  deleteKeys(keys: string[]): Promise<void> {
    keys.forEach((key) => this.objects.delete(key));
    return Promise.resolve();
  }
}

/** The job queue; `down` makes every add fail, as an unreachable Redis would. */
class FakeQueue {
  readonly jobs: ObjectToQueue[] = [];
  down = false;

  enqueue(object: ObjectToQueue): Promise<void> {
    this.add([object]);
    return Promise.resolve();
  }

  enqueueAll(objects: readonly ObjectToQueue[]): Promise<void> {
    this.add(objects);
    return Promise.resolve();
  }

  private add(jobs: readonly ObjectToQueue[]): void {
    if (this.down) {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    }
    this.jobs.push(...jobs);
  }
}

/** Idempotency-Keys per team: a free key is claimed, a kept one answers with its submission. */
class FakeIdempotencyKeys {
  readonly kept = new Map<string, KeptSubmission>();
  readonly claimed = new Set<string>();

  claim(team: string, key: string): Promise<ClaimedKey | KeptSubmission> {
    const name = `${team}/${key}`;
    const kept = this.kept.get(name);
    if (kept) {
      return Promise.resolve(kept);
    }
    this.claimed.add(name);
    return Promise.resolve({
      keep: (submission) => {
        this.claimed.delete(name);
        this.kept.set(name, submission);
        return Promise.resolve();
      },
      release: () => {
        this.claimed.delete(name);
        return Promise.resolve();
      },
    });
  }
}

function setUp() {
  const objects = new FakeObjects();
  const storage = new FakeStorage();
  const queue = new FakeQueue();
  const keys = new FakeIdempotencyKeys();
  const operations = { names: ['validate', 'transform'], plan: (requested: string[]) => requested } as unknown as OperationCatalog;
  const teamQueue = {
    check: () => Promise.resolve(),
    room: () => Promise.resolve(Number.MAX_SAFE_INTEGER),
    queued: () => undefined,
  } as unknown as TeamQueueCap;
  const submissions = new SubmissionService(
    // Every payload goes to S3 here: the path with the most to clean up (small ones are kept inline by default).
    new AppConfig({ PAYLOAD_INLINE_MAX_BYTES: '0' }),
    objects as unknown as ObjectsRepository,
    objects as unknown as ObjectStateStore,
    operations,
    storage as unknown as StorageService,
    queue as unknown as ProcessingQueue,
    keys as unknown as IdempotencyKeysRepository,
    teamQueue,
    {} as WebhooksService,
  );
  return { submissions, objects, storage, queue, keys };
}

const request = (identifier: string, extra: Partial<SubmitObjectDto> = {}): SubmitObjectDto => ({
  identifier,
  operations: ['validate'],
  ...extra,
});

describe('SubmissionService', () => {
  describe('an identifier that is taken', () => {
    it('is 409 identifier_taken, naming the holder to its own team and nothing of it to another', async () => {
      const { submissions, objects } = setUp();
      const first = await submissions.submit(request('doc-1'), undefined, TEAM);

      await expect(submissions.submit(request('doc-1', { metadata: { other: true } }), undefined, TEAM)).rejects.toMatchObject({
        status: HttpStatus.CONFLICT,
        code: ErrorCode.IdentifierTaken,
        details: { id: first.id, identifier: 'doc-1', state: 'queued' },
      });
      // The same request without a key is not a replay either.
      await expect(submissions.submit(request('doc-1'), undefined, TEAM)).rejects.toMatchObject({ code: ErrorCode.IdentifierTaken });
      await expect(submissions.submit(request('doc-1'), undefined, OTHER_TEAM)).rejects.toMatchObject({
        status: HttpStatus.CONFLICT,
        code: ErrorCode.IdentifierTaken,
        details: undefined,
      });
      expect(objects.rows.size).toBe(1);
    });
  });

  describe('an Idempotency-Key', () => {
    it('replays the first answer for the same request, in any key order, and refuses another request with 409 writing nothing', async () => {
      const { submissions, objects, queue } = setUp();
      const first = await submissions.submit(request('doc-1', { metadata: { a: 1, b: 2 } }), 'key-1', TEAM);

      const replay = await submissions.submit({ metadata: { b: 2, a: 1 }, operations: ['validate'], identifier: 'doc-1' }, 'key-1', TEAM);
      expect(replay).toEqual(first);

      await expect(submissions.submit(request('doc-1', { metadata: { a: 1, b: 3 } }), 'key-1', TEAM)).rejects.toMatchObject({
        status: HttpStatus.CONFLICT,
        code: ErrorCode.IdempotencyKeyReused,
        details: { id: first.id },
      });
      // Another identifier under a used key is another request too.
      await expect(submissions.submit(request('doc-2'), 'key-1', TEAM)).rejects.toMatchObject({ code: ErrorCode.IdempotencyKeyReused });
      expect([...objects.rows.keys()]).toEqual([first.id]);
      expect(queue.jobs).toHaveLength(1);
    });

    it('is answered from the object row when the key itself was not kept: the same request replays, another is 409', async () => {
      const { submissions, objects, keys } = setUp();
      const first = await submissions.submit(request('doc-1', { payload: { n: 1 } }), 'key-1', TEAM);
      keys.kept.clear(); // as if the process died between creating the object and keeping its key

      await expect(submissions.submit(request('doc-1', { payload: { n: 1 } }), 'key-1', TEAM)).resolves.toEqual(first);

      keys.kept.clear();
      await expect(submissions.submit(request('doc-1', { payload: { n: 2 } }), 'key-1', TEAM)).rejects.toMatchObject({
        code: ErrorCode.IdempotencyKeyReused,
        details: { id: first.id },
      });
      // A different key for the same identifier is a clash, not a replay.
      await expect(submissions.submit(request('doc-1', { payload: { n: 1 } }), 'key-2', TEAM)).rejects.toMatchObject({
        code: ErrorCode.IdentifierTaken,
      });
      expect(objects.rows.size).toBe(1);
    });

    it('is scoped to its team: another team using the same key makes a request of its own', async () => {
      const { submissions, objects } = setUp();
      await submissions.submit(request('doc-1'), 'key-1', TEAM);
      await submissions.submit(request('doc-2'), 'key-1', OTHER_TEAM);
      expect(objects.rows.size).toBe(2);
    });
  });

  describe('when the job cannot be added (queue down)', () => {
    it('removes the row and the stored payload, answers 503 and frees the identifier and the key', async () => {
      const { submissions, objects, storage, queue, keys } = setUp();
      queue.down = true;

      await expect(submissions.submit(request('doc-1', { payload: { n: 1 } }), 'key-1', TEAM)).rejects.toMatchObject({
        status: HttpStatus.SERVICE_UNAVAILABLE,
        code: ErrorCode.DependencyUnavailable,
      });
      expect(objects.rows.size).toBe(0);
      expect(storage.objects.size).toBe(0);
      expect(keys.claimed.size + keys.kept.size).toBe(0);

      queue.down = false;
      const accepted = await submissions.submit(request('doc-1', { payload: { n: 2 } }), 'key-1', TEAM);
      expect([...objects.rows.keys()]).toEqual([accepted.id]);
      expect([...storage.objects.values()].map((body) => JSON.parse(body.toString()) as unknown)).toEqual([{ n: 2 }]);
      expect(queue.jobs.map(({ id }) => id)).toEqual([accepted.id]);
    });

    it('removes every object of a batch with their payloads, and answers 503', async () => {
      const { submissions, objects, storage, queue } = setUp();
      queue.down = true;

      await expect(
        submissions.submitBatch([request('doc-1', { payload: { n: 1 } }), request('doc-2')], undefined, TEAM),
      ).rejects.toMatchObject({
        status: HttpStatus.SERVICE_UNAVAILABLE,
        code: ErrorCode.DependencyUnavailable,
      });
      expect(objects.rows.size).toBe(0);
      expect(storage.objects.size).toBe(0);

      queue.down = false;
      const batch = await submissions.submitBatch([request('doc-1'), request('doc-2')], undefined, TEAM);
      expect(batch).toMatchObject({ accepted: 2, refused: 0 });
    });
  });
});
