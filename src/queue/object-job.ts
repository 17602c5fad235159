import type { JobsOptions } from 'bullmq';
import type { AppConfig } from '../config/app-config';
import { JobName, JobOrigin, ProcessObjectJob } from './jobs';

/** An object as its job needs it: the job id of its current run and its priority as the API takes it. */
export interface ObjectToQueue {
  id: string;
  taskId: string;
  /** 1 (lowest) to 10 (highest). */
  priority: number;
}

/** The BullMQ job of an object’s current run as it is added, with every option. */
export interface NewObjectJob {
  name: ProcessObjectJob['name'];
  data: ProcessObjectJob['data'];
  opts: JobsOptions & { jobId: string; priority: number };
}

/** API priority: 1 (lowest) to 10 (highest); BullMQ: 1 is the highest. */
export function jobPriority(priority: number): number {
  return 11 - priority;
}

/**
 * The one place an object becomes a job: submission, retry and the reconciler all queue this.
 * A failed job is kept (the reconciler reads why it failed); a completed one for a day.
 */
export function objectJob(object: ObjectToQueue, settings: AppConfig['jobs'], origin: JobOrigin): NewObjectJob {
  return {
    name: JobName.ProcessObject,
    data: { objectId: object.id, origin },
    opts: {
      jobId: object.taskId,
      priority: jobPriority(object.priority),
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: false,
    },
  };
}
