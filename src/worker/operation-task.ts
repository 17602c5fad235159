import type { WrittenFile } from '../operations/operation';
import type { StoredObject } from '../storage/storage.service';
import type { JobCarry } from './job-memory';
import type { ObjectForRun } from './operation-run';
import type { TraceCarrier } from '../tracing/trace-context';

/** What the job hands an operation process: one operation to run on one object. Progress messages travel back as pool events. */
export interface OperationTask {
  operation: string;
  object: ObjectForRun;
  carry: JobCarry;
  /** The operation's span, which the process's S3 calls are children of. */
  trace: TraceCarrier;
  /**
   * Export the run's spans before answering: set when the process is ended right after the run (a pool of a
   * budget of its own closes when idle). A process that stays exports them in batches, as the SDK does.
   */
  flushSpans: boolean;
}

/**
 * Why an object failed for good. Content and budget failures are permanent: running the same
 * operation on the same content again would end the same way.
 */
export type PermanentFailureCode = 'invalid_content' | 'budget_exceeded';

export type OperationTaskOutcome =
  | { status: 'completed'; result: StoredObject; files: WrittenFile[] }
  | { status: 'failed'; code: PermanentFailureCode; reason: string }
  /**
   * Thrown: `dependency` when PostgreSQL, Redis or S3 could not serve (the job waits for them without
   * spending an attempt); `unexpected` otherwise (retried while attempts remain).
   */
  | { status: 'error'; cause: 'dependency' | 'unexpected'; message: string };

export interface OperationTaskResult {
  outcome: OperationTaskOutcome;
  carry: Omit<JobCarry, 'directory'>;
}

/** What an operation process tells the job while a run goes on: that it started (its budget runs from here), or a progress message. */
export type OperationProcessMessage = { started: true } | { progress: string };

/** An operation met PostgreSQL, Redis or S3 not serving it: whether that is an outage, the worker's dependency gate decides. */
export class OperationDependencyError extends Error {}
