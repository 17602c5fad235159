import { AppConfig } from '../config/app-config';
import type { ObjectNotifications } from '../notifications/object-notifications';
import type { ProcessingQueue } from '../queue/processing-queue';
import type { StorageService } from '../storage/storage.service';
import type { ExpiredObject, RetentionRepository } from './retention.repository';
import { RetentionSweep } from './retention-sweep';

/** Expired rows handed out a batch at a time, as the DELETE … LIMIT does; identifiers in `inUse` belong to a newer object. */
function setUp(expired: ExpiredObject[], { inUse = [] as string[], s3Fails = [] as string[] } = {}) {
  const remaining = [...expired];
  const cutoffs: Date[] = [];
  const batches: number[] = [];
  const repository = {
    deleteFinishedBefore: (cutoff: Date, limit: number) => {
      cutoffs.push(cutoff);
      const batch = remaining.splice(0, limit);
      batches.push(batch.length);
      return Promise.resolve(batch);
    },
    identifierInUse: (identifier: string) => Promise.resolve(inUse.includes(identifier)),
  };
  const deletedPrefixes: string[] = [];
  const storage = {
    deletePrefix: (prefix: string) => {
      if (s3Fails.some((identifier) => prefix === `${identifier}/`)) {
        return Promise.reject(new Error('S3 is down'));
      }
      deletedPrefixes.push(prefix);
      return Promise.resolve(1);
    },
  };
  const removedJobs: string[] = [];
  const queue = { removeJob: (jobId: string) => Promise.resolve(removedJobs.push(jobId) > 0) };
  const ended: string[] = [];
  const notifications = {
    publishChange: ({ id }: { id: string }) => {
      ended.push(id);
      return Promise.resolve();
    },
  };
  const sweep = new RetentionSweep(
    new AppConfig({ RETENTION_MAX_AGE_SECONDS: '60', RETENTION_BATCH_SIZE: '2' }),
    repository as unknown as RetentionRepository,
    queue as unknown as ProcessingQueue,
    storage as unknown as StorageService,
    notifications as unknown as ObjectNotifications,
  );
  return { sweep, cutoffs, batches, deletedPrefixes, removedJobs, ended, remaining };
}

const object = (n: number): ExpiredObject => ({ id: `id-${n}`, identifier: `doc-${n}`, taskId: n === 3 ? null : `id-${n}.1` });

describe('RetentionSweep', () => {
  it('removes batch after batch until a short one, with each object’s job, prefix and open streams, from a cutoff of now minus the age', async () => {
    const { sweep, cutoffs, batches, deletedPrefixes, removedJobs, ended } = setUp([1, 2, 3, 4, 5].map(object));
    const now = new Date('2026-06-01T12:00:00Z');

    expect(await sweep.run(now)).toBe(5);

    expect(batches).toEqual([2, 2, 1]);
    expect(cutoffs.every((cutoff) => cutoff.toISOString() === '2026-06-01T11:59:00.000Z')).toBe(true);
    expect(deletedPrefixes).toEqual(['doc-1/', 'doc-2/', 'doc-3/', 'doc-4/', 'doc-5/']);
    expect(removedJobs).toEqual(['id-1.1', 'id-2.1', 'id-4.1', 'id-5.1']);
    expect(ended).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  });

  it('leaves the prefix of an identifier that a newer object has taken since', async () => {
    const { sweep, deletedPrefixes } = setUp([object(1), object(2)], { inUse: ['doc-2'] });
    expect(await sweep.run()).toBe(2);
    expect(deletedPrefixes).toEqual(['doc-1/']);
  });

  it('stops after the batch in which S3 failed, naming what stays, and deletes no more rows', async () => {
    const { sweep, batches, deletedPrefixes, remaining } = setUp([1, 2, 3, 4, 5].map(object), { s3Fails: ['doc-1'] });
    await expect(sweep.run()).rejects.toThrow(/removed 2 object\(s\), then stopped: S3 did not remove the artifacts of doc-1/);
    expect(batches).toEqual([2]);
    expect(deletedPrefixes).toEqual(['doc-2/']);
    expect(remaining.map((expired) => expired.identifier)).toEqual(['doc-3', 'doc-4', 'doc-5']);
  });
});
