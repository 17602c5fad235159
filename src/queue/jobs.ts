import type { TraceCarrier } from '../tracing/trace-context';

export const OBJECTS_QUEUE = 'objects';

export enum JobName {
  ProcessObject = 'process-object',
}

/** Where a job came from: the request that queued it and its trace, which the job's spans continue. */
export interface JobOrigin extends TraceCarrier {
  reqId?: string;
}

export interface ProcessObjectJob {
  name: JobName.ProcessObject;
  /** `origin` is added by ProcessingQueue.enqueue (see object-job.ts); jobs queued by no request (the reconciler's) have no reqId nor trace. */
  data: { objectId: string; origin?: JobOrigin };
}

/** Every job the service enqueues; producers go through one entry point with this type. */
export type JobItem = ProcessObjectJob;

/** One BullMQ job id per run of an object: retries of a failed object get a fresh id. */
export function taskIdFor(objectId: string, run: number): string {
  return `${objectId}.${run}`;
}

/** What the queue holds under a job id; `failedReason` only for a job in the failed set. */
export interface JobFate {
  state: 'waiting' | 'prioritized' | 'delayed' | 'active' | 'waiting-children' | 'completed' | 'failed' | 'unknown';
  failedReason?: string;
}
