import type { UnsettledState } from '../objects/object-records';
import type { JobFate } from '../queue/jobs';

/**
 * What the reconciler does for a queued or processing object, given its job:
 * - `none`: the job is alive (waiting, delayed, active…); the worker or BullMQ's stall check owns it.
 * - `add`: the job is absent (never enqueued, or Redis lost it): add it again under the same id,
 *   which nothing has used, so concurrent reconcilers add it once.
 * - `requeue`: the job is dead (completed without settling the object, or given up by the queue
 *   while the object's own failure could not be recorded, e.g. during a database outage): a job id
 *   is never reused by BullMQ, so the object gets a fresh one (its next run) and a new job.
 * - `fail`: the job stalled out (its worker died too often while running it, which is what an
 *   object that kills its worker looks like): requeuing could kill workers forever, so the object is
 *   failed with a message saying so, and can be retried by hand.
 */
export type Recovery = { action: 'none' } | { action: 'add' } | { action: 'requeue'; reason: string } | { action: 'fail'; reason: string };

/** BullMQ's failedReason for a job moved to the failed set by its stall check (moveStalledJobsToWait). */
const STALLED_OUT = /stalled more than allowable limit/i;

export function recoveryFor(state: UnsettledState, job: JobFate): Recovery {
  switch (job.state) {
    case 'unknown':
      return { action: 'add' };
    case 'completed':
      return { action: 'requeue', reason: 'its job ended without finishing the object' };
    case 'failed': {
      const reason = job.failedReason || 'no reason recorded';
      // Only a processing object can be failed (queued → failed is not a transition); a queued one never started, so it runs again.
      return STALLED_OUT.test(reason) && state === 'processing'
        ? {
            action: 'fail',
            reason: `Processing was given up: its worker stopped while running it too many times (${reason}); retry the object to run it again`,
          }
        : { action: 'requeue', reason: `its job was given up by the queue (${reason})` };
    }
    case 'waiting':
    case 'prioritized':
    case 'delayed':
    case 'active':
    case 'waiting-children':
      return { action: 'none' };
  }
}
