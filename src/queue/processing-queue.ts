import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { JobFate, JobOrigin, OBJECTS_QUEUE } from './jobs';
import { ObjectToQueue, jobPriority, objectJob } from './object-job';
import { QueueConnection } from './queue-connection';
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

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** Thin adapter over the BullMQ queue the API produces to and the workers consume from. */
@Injectable()
export class ProcessingQueue {
  private readonly logger = new Logger(ProcessingQueue.name);

  constructor(
    private readonly config: AppConfig,
    @InjectQueue(OBJECTS_QUEUE) private readonly queue: Queue,
    private readonly connection: QueueConnection,
  ) {}

  /** Adds the job of the object's current run, with its origin: the request being handled, and the active trace, which the job continues. */
  async enqueue(object: ObjectToQueue): Promise<void> {
    const { name, data, opts } = objectJob(object, this.config.jobs, jobOrigin());
    await this.queue.add(name, data, opts);
  }

  /** Adds the objects' jobs in one round trip (BullMQ's addBulk: all of them, atomically, or none), each with the origin enqueue gives. */
  async enqueueAll(objects: readonly ObjectToQueue[]): Promise<void> {
    if (objects.length > 0) {
      const origin = jobOrigin();
      await this.queue.addBulk(objects.map((object) => objectJob(object, this.config.jobs, origin)));
    }
  }

  /**
   * Removes a job that is not running; a job a worker holds is left to notice cancellation itself. False when it
   * could not be removed: a job left behind finds its object settled and does nothing (the reconciler's rule).
   */
  async removeJob(jobId: string): Promise<boolean> {
    try {
      return (await this.queue.remove(jobId)) === 1;
    } catch (error) {
      this.logger.warn(`Could not remove job ${jobId}; it will find its object settled and stop: ${String(error)}`);
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
   * BullMQ starts jobs of the wait list first, then the prioritized set in score order. `priority` is the object's, as the API takes it.
   */
  async placeOf(jobId: string, priority: number): Promise<QueuePlace> {
    const keys = this.queue.keys;
    const redis = this.connection.redis;
    const [state, waitLength, active] = await Promise.all([
      this.queue.getJobState(jobId),
      redis.llen(keys.wait!),
      redis.llen(keys.active!),
    ]);
    if (state === 'prioritized') {
      const [rank, higher] = await Promise.all([
        redis.zrank(keys.prioritized!, jobId),
        redis.zcount(keys.prioritized!, '-inf', `(${jobPriority(priority) * PRIORITY_SCORE_STEP}`),
      ]);
      return rank === null
        ? { state, position: null, higherPriorityAhead: null, active }
        : { state, position: waitLength + rank + 1, higherPriorityAhead: higher, active };
    }
    if (state === 'waiting') {
      // Jobs are pushed on the left and taken from the right.
      const index = (await redis.call('LPOS', keys.wait!, jobId, 'MAXLEN', WAIT_LIST_SCAN_LIMIT)) as number | null;
      return { state, position: index === null ? null : waitLength - index, higherPriorityAhead: index === null ? null : 0, active };
    }
    return { state, position: null, higherPriorityAhead: null, active };
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

  /** Stops every worker taking jobs of this queue (BullMQ's pause flag, kept in Redis). */
  async pause(): Promise<void> {
    await this.queue.pause();
  }

  async resume(): Promise<void> {
    await this.queue.resume();
  }

  async isPaused(): Promise<boolean> {
    return this.queue.isPaused();
  }

  /** Caps the jobs active at once across every worker process (kept in Redis, in the queue's meta hash). */
  async setGlobalConcurrency(concurrency: number): Promise<void> {
    await this.queue.setGlobalConcurrency(concurrency);
  }

  async globalConcurrency(): Promise<number | null> {
    return this.queue.getGlobalConcurrency();
  }

  /** Calls `listener` each time the queue's Redis connection is (re)established; returns the unsubscribe. */
  onConnectionReady(listener: () => void): () => void {
    return this.connection.onReady(listener);
  }
}

/** The request being handled and the active trace, for a job queued now. */
function jobOrigin(): JobOrigin {
  const requestId = currentRequestId();
  return { ...currentTraceCarrier(), ...(requestId === undefined ? {} : { reqId: requestId }) };
}
