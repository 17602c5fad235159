import type { ListPosition } from './list-cursor';
import type { RecordedEvent } from './object-event.entity';
import type { ObjectState } from './object-state';
import type { ObjectProgress, ObjectSource, ObjectWebhook, OperationStatus, ProcessingObject } from './processing-object.entity';

/** What a submission knows of its object before it is stored. */
export interface NewObject {
  id: string;
  identifier: string;
  team: string;
  operations: string[];
  plan: string[];
  metadata: Record<string, unknown>;
  options: Record<string, unknown>;
  priority: number;
  idempotencyKey: string | null;
  /** The hash of the submission, kept only with an Idempotency-Key: only a replay under the key compares requests. */
  requestHash: string | null;
  webhook: ObjectWebhook | null;
}

/** What a submission knows of its object once it is queued. */
export interface QueuedFields {
  taskId: string;
  source: ObjectSource | null;
  /** The source's bytes, for a source kept inline (it has no s3_url). */
  sourceInline?: Buffer;
}

/** Column changes that may accompany a state change or a progress update. */
export interface ObjectPatch {
  currentOperation?: string | null;
  progress?: ObjectProgress;
  progressMessage?: string;
  errorMessage?: string | null;
  errorCode?: string | null;
  taskId?: string;
  source?: ObjectSource;
  incrementAttempts?: boolean;
  markStarted?: boolean;
  markFinished?: boolean;
  clearFinished?: boolean;
  operationStatus?: { operation: string; status: Partial<OperationStatus> };
  completedOperation?: { operation: string; s3Url: string };
  /** Operations whose status and artifact are forgotten, so that the next run does them again: every one, or these. */
  rerunOperations?: 'all' | readonly string[];
}

/** One change of an object and the event that records it. */
export interface RecordedChange {
  patch: ObjectPatch;
  event: RecordedEvent;
}

/** The states in which an object is waiting for, or held by, a job. */
export type UnsettledState = Extract<ObjectState, 'queued' | 'processing'>;

/** Where a keyset sweep stopped: created_at as PostgreSQL prints it (microseconds kept), and the id. */
export interface SweepPosition {
  createdAt: string;
  id: string;
}

export interface UnsettledObject {
  id: string;
  state: UnsettledState;
  taskId: string | null;
  priority: number;
  attempts: number;
  updatedAt: Date;
  position: SweepPosition;
}

export interface ObjectListFilter {
  /** Only this team's objects; every team's when undefined. */
  team?: string;
  state?: ObjectState;
  identifierPrefix?: string;
  operation?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Failed objects only: by error code, by fingerprint, by when they failed (finished_at). */
  errorCode?: string;
  errorFingerprint?: string;
  failedAfter?: Date;
  failedBefore?: Date;
  after?: ListPosition;
  limit: number;
}

export interface ListedObject {
  object: ProcessingObject;
  position: ListPosition;
}

export interface RecentDurations {
  /** How many completed objects the means come from. */
  objects: number;
  operations: Record<string, { meanMs: number; runs: number }>;
}

/** What running an object's plan reads of it. */
export type ObjectToRun = Pick<
  ProcessingObject,
  'id' | 'identifier' | 'state' | 'taskId' | 'metadata' | 'options' | 'source' | 'sourceInline' | 'createdAt' | 'plan' | 'operationsStatus'
>;
