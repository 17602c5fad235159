import { Queue } from 'bullmq';
import request from 'supertest';
import type { ProgressResponse } from '../../src/objects/dto/object.responses';
import { JobItem, OBJECTS_QUEUE } from '../../src/queue/jobs';
import type { TestApp } from './test-app';
import { waitFor } from './wait-for';

const SETTLED_STATES = ['completed', 'failed', 'cancelled'];

/**
 * How long a test that runs megabytes of content through operations waits for its object: operation processes run at a
 * lower CPU priority, so a busy machine slows them first and most.
 */
export const CONTENT_SETTLE_MS = 150_000;
/** The Jest timeout of such a test: above CONTENT_SETTLE_MS, so that its main wait, when it runs out, names the object. */
export const CONTENT_TEST_MS = 180_000;

/** The object's progress once it is completed, failed or cancelled. */
export function waitUntilSettled(baseUrl: string, id: string, timeoutMs = 60_000): Promise<ProgressResponse> {
  return waitFor(
    async () => {
      const progress = (await request(baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
      return SETTLED_STATES.includes(progress.state) && progress;
    },
    { timeoutMs, intervalMs: 100, what: `object ${id} to settle` },
  );
}

/** A BullMQ handle on an app's own queue of objects, to see its jobs; the caller closes it. */
export function objectsQueueOf(service: TestApp): Queue<JobItem['data']> {
  return new Queue<JobItem['data']>(OBJECTS_QUEUE, { connection: { url: service.config.redis.url }, prefix: service.config.redis.prefix });
}

/** Every job the queue holds or still remembers, whatever its state. */
export async function countJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children');
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

export interface UploadedFile {
  bytes: Buffer;
  contentType: string;
  ext: string;
}

/** Uploads `file` as a new object's content through POST /api/v1/process (202) and returns the object. */
export async function submitUpload(
  baseUrl: string,
  identifier: string,
  file: UploadedFile,
  operations: string[],
  options: Record<string, unknown> = {},
): Promise<{ id: string; identifier: string }> {
  const response = await request(baseUrl)
    .post('/api/v1/process')
    .field('identifier', identifier)
    .field('operations', JSON.stringify(operations))
    .field('options', JSON.stringify(options))
    .attach('file', file.bytes, { filename: `${identifier}.${file.ext}`, contentType: file.contentType })
    .expect(202);
  return { id: (response.body as { id: string }).id, identifier };
}
