import type { Queue } from 'bullmq';
import request from 'supertest';
import type { ProgressResponse } from '../../src/objects/dto/object.responses';
import { waitFor } from './wait-for';

const SETTLED_STATES = ['completed', 'failed', 'cancelled'];

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

/** Every job the queue holds or still remembers, whatever its state. */
export async function countJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children');
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
