import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { JobFate, JobItem, JobOrigin, OBJECTS_QUEUE } from './jobs';
import { closeGracefully } from '../common/close-gracefully';
import { currentRequestId } from '../logging/request-id';
import { currentTraceCarrier } from '../tracing/trace-context';

/** Where a job stands among those waiting to start, all teams together. */
export interface QueuePlace {
  state: JobFate['state'];
  /** 1 for the next job to start; null unless the job waits to start (a delayed job has none). */
  position: number | null;
  /** Waiting jobs of a higher priority than this one's, all ahead of it; null without a position. */
  higherPriorityAhead: number | null;
  active: number;
}

/** BullMQ's prioritized sorted set scores a job priority × 2^32 + an insertion counter. */
const PRIORITY_SCORE_STEP = 0x100000000;
/** Past this index in the (rarely used) wait list a job's position is not looked for. */
const WAIT_LIST_SCAN_LIMIT = 10_000;

/** A job and its options, as enqueue and enqueueBulk take them. */
export interface QueuedJob {
  job: JobItem;
  options: { jobId: string; priority?: number };
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** Thin adapter over the BullMQ queue the API produces to and the workers consume from. */
@Injectable()
export class ProcessingQueue implements OnApplicationShutdown {
  readonly queue: Queue;
  /** Owned here rather than by BullMQ, whose own disconnect can wait forever on a Redis that went away and came back. */
  private readonly connection: Redis;

  constructor(config: AppConfig) {
    this.connection = new Redis(config.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.connection.on('error', () => undefined);
    this.queue = new Queue(OBJECTS_QUEUE, {
      connection: this.connection,
      prefix: config.redis.prefix,
      defaultJobOptions: {
        attempts: config.jobs.attempts,
        backoff: { type: 'exponential', delay: config.jobs.backoffMs },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: false,
      },
    });
  }

  /** Adds the job with its origin: the request being handled, and the active trace, which the job continues. */
  async enqueue(job: JobItem, options: { jobId: string; priority?: number }): Promise<void> {
    await this.queue.add(job.name, { ...job.data, origin: jobOrigin() }, options);
  }

  /** Adds the jobs in one round trip (BullMQ's addBulk: all of them, atomically, or none), each with the origin enqueue gives. */
  async enqueueBulk(jobs: readonly QueuedJob[]): Promise<void> {
    if (jobs.length > 0) {
      const origin = jobOrigin();
      await this.queue.addBulk(jobs.map(({ job, options }) => ({ name: job.name, data: { ...job.data, origin }, opts: options })));
    }
  }

  /** Removes a job that is not running; a job a worker holds is left to notice cancellation itself. */
  async removeJob(jobId: string): Promise<boolean> {
    try {
      return (await this.queue.remove(jobId)) === 1;
    } catch {
      return false;
    }
  }

  /** The state of a job, with the reason it failed when it is in the failed set. */
  async jobFate(jobId: string): Promise<JobFate> {
    const state = await this.queue.getJobState(jobId);
    if (state !== 'failed') {
      return { state };
    }
    const job = await this.queue.getJob(jobId);
    return { state, failedReason: job?.failedReason };
  }

  /**
   * The place of a job among those waiting to start, in a handful of Redis commands each O(log n) or O(1)
   * (the plain wait list, which only jobs without a priority use, is scanned up to WAIT_LIST_SCAN_LIMIT).
   * BullMQ starts jobs of the wait list first, then the prioritized set in score order.
   */
  async placeOf(jobId: string, priority: number): Promise<QueuePlace> {
    const keys = this.queue.keys;
    const [state, waitLength, active] = await Promise.all([
      this.queue.getJobState(jobId),
      this.connection.llen(keys.wait!),
      this.connection.llen(keys.active!),
    ]);
    if (state === 'prioritized') {
      const [rank, higher] = await Promise.all([
        this.connection.zrank(keys.prioritized!, jobId),
        this.connection.zcount(keys.prioritized!, '-inf', `(${priority * PRIORITY_SCORE_STEP}`),
      ]);
      return rank === null
        ? { state, position: null, higherPriorityAhead: null, active }
        : { state, position: waitLength + rank + 1, higherPriorityAhead: higher, active };
    }
    if (state === 'waiting') {
      // Jobs are pushed on the left and taken from the right.
      const index = (await this.connection.call('LPOS', keys.wait!, jobId, 'MAXLEN', WAIT_LIST_SCAN_LIMIT)) as number | null;
      return { state, position: index === null ? null : waitLength - index, higherPriorityAhead: index === null ? null : 0, active };
    }
    return { state, position: null, higherPriorityAhead: null, active };
  }

  /** Calls `listener` each time the queue's Redis connection is (re)established; returns the unsubscribe. */
  onConnectionReady(listener: () => void): () => void {
    this.connection.on('ready', listener);
    return () => this.connection.off('ready', listener);
  }

  async counts(): Promise<QueueCounts> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    };
  }

  async workerCount(): Promise<number> {
    return (await this.queue.getWorkers()).length;
  }

  async onApplicationShutdown(): Promise<void> {
    await closeGracefully(() => this.queue.close(), () => undefined);
    await closeGracefully(() => this.connection.quit(), () => this.connection.disconnect());
  }
}

/** The request being handled and the active trace, for a job queued now. */
function jobOrigin(): JobOrigin {
  const requestId = currentRequestId();
  return { ...currentTraceCarrier(), ...(requestId === undefined ? {} : { reqId: requestId }) };
}
