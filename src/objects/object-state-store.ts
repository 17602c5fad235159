import { Injectable } from '@nestjs/common';
import { InvalidTransitionError, ObjectNotFoundError } from '../common/domain-errors';
import { Sql, SqlSession } from '../database/sql';
import type { ObjectEventRecord, RecordedEvent } from './object-event.entity';
import { PATCHED_COLUMNS, columnChanges, patchAssignments } from './object-patch-sql';
import type { NewObject, ObjectPatch, ObjectToRun, QueuedFields, RecordedChange, UnsettledState } from './object-records';
import { ObjectState, assertTransition, statesLeadingTo } from './object-state';
import type { ObjectSource, OperationStatus } from './processing-object.entity';

const TABLE = 'processing_objects';

/** What an object looked like right after a change: the fields its event's snapshot holds. */
const SNAPSHOT = `jsonb_build_object('state', state, 'currentOperation', current_operation, 'progress', progress,
  'operationsStatus', operations_status, 's3Artifacts', s3_artifacts, 'errorMessage', error_message)`;

/**
 * The state of objects and its event log, written together. Every method is one conditional
 * statement (`… where id = ? and state = …`), so concurrent API and worker processes never overwrite
 * each other's state changes, and every change it makes records its event in the same statement:
 * no change goes unrecorded. The statements are prepared on the pool (Sql.prepared): they are most of
 * what PostgreSQL does for a pipeline. A new kind of change is a new method here, over updateRecordingEvent.
 */
@Injectable()
export class ObjectStateStore {
  constructor(private readonly sql: Sql) {}

  /** Creates the object directly as queued, in one statement. An identifier clash raises UniqueConstraintViolationException. */
  async insertQueued(object: NewObject, queued: QueuedFields): Promise<void> {
    await insertQueued(this.sql, object, queued);
  }

  /**
   * Moves the object to `to` when its current state allows it (per the transition table) and is one of
   * `from` if given. Returns the recorded event (its seq is the new version); throws ObjectNotFoundError when
   * the object is gone, InvalidTransitionError when the change is refused.
   */
  async transition(id: string, to: ObjectState, patch: ObjectPatch = {}, from?: ObjectState[]): Promise<ObjectEventRecord> {
    const allowedFrom = from ?? statesLeadingTo(to);
    allowedFrom.forEach((state) => assertTransition(state, to));
    const operation = patch.operationStatus?.operation ?? patch.currentOperation ?? null;
    const recorded = await this.updateRecordingEvent({
      id,
      states: allowedFrom,
      newState: to,
      patch,
      event: { kind: 'state_changed', operation },
    });
    if (recorded) {
      return recorded;
    }
    const [current] = await this.sql.prepared<{ state: ObjectState }>(`select state from ${TABLE} where id = ?`, [id]);
    if (!current) {
      throw new ObjectNotFoundError(id);
    }
    throw new InvalidTransitionError(current.state, to);
  }

  /**
   * Moves a queued object whose job is `taskId` to processing (`patch`) and starts its first operation not completed
   * yet (as of `operationStartedAt`), in one statement that records an event for each: the object's start, then the
   * operation's, each with the snapshot of its own change. (A queued object with every operation completed gets the
   * first alone; no path leaves one so, since an object's last operation ends together with its completion.) Returns
   * what running the plan reads of the object as it now is, the operation started and the events in order; null when
   * the object is not queued under that job.
   */
  async startProcessing(id: string, taskId: string, patch: ObjectPatch, operationStartedAt: Date): Promise<StartedObject | null> {
    assertTransition('queued', 'processing');
    const starting = new Map(columnChanges(patch, '').map((change) => [change.column, change]));
    // The second change, over the columns as the first left them (PlanRunner.recordStart's change, for an operation SQL finds);
    // without an operation to start, it changes nothing.
    const operationStart: Record<string, string> = {
      version: 'first.version + 1',
      progress: `jsonb_set(first.progress, '{message}', to_jsonb('Executing ' || first.next_operation))`,
      current_operation: 'first.next_operation',
      operations_status: `jsonb_set(first.operations_status, array[first.next_operation],
        coalesce(first.operations_status -> first.next_operation, '{}'::jsonb) || jsonb_build_object('completed', false,
          'started_at', ?::text, 'attempts', coalesce((first.operations_status -> first.next_operation ->> 'attempts')::int, 0) + 1, 'error', null))`,
    };
    const [row] = await this.sql.prepared<StartedRow>(
      `with first as (
         select id, 'processing'::text as state, ${PATCHED_COLUMNS.map((column) => `${starting.get(column)?.sql ?? column} as ${column}`).join(', ')},
             (select planned.operation from jsonb_array_elements_text(plan) with ordinality as planned(operation, position)
               where not coalesce((operations_status -> planned.operation ->> 'completed')::boolean, false)
               order by planned.position limit 1) as next_operation
           from ${TABLE} where id = ? and task_id = ? and state = 'queued' for update
       ), changed as (
         update ${TABLE} set state = first.state, ${PATCHED_COLUMNS.map((column) =>
           operationStart[column]
             ? `${column} = case when first.next_operation is null then first.${column} else ${operationStart[column]} end`
             : `${column} = first.${column}`,
         ).join(', ')}
           from first where ${TABLE}.id = first.id
           returning ${TABLE}.id, identifier, ${TABLE}.state, ${TABLE}.task_id, metadata, options, ${TABLE}.source, source_inline, created_at, plan,
             ${TABLE}.version, ${TABLE}.current_operation, ${TABLE}.progress, ${TABLE}.operations_status, ${TABLE}.s3_artifacts,
             ${TABLE}.error_message, first.next_operation
       ), recorded as (
         insert into object_events (object_id, seq, kind, operation, snapshot)
           select id, version, 'state_changed', null, ${SNAPSHOT} from first
           union all
           select id, version, 'operation_started', next_operation, ${SNAPSHOT} from changed where next_operation is not null
         returning seq, kind, operation, snapshot
       )
       select id, identifier, state, task_id, metadata, options, source, source_inline, created_at, plan, operations_status, next_operation,
           (select json_agg(json_build_object('seq', seq, 'kind', kind, 'operation', operation, 'snapshot', snapshot) order by seq)
             from recorded) as events
         from changed`,
      [...PATCHED_COLUMNS.flatMap((column) => starting.get(column)?.params ?? []), id, taskId, operationStartedAt.toISOString()],
    );
    if (!row) {
      return null;
    }
    // Mapped here rather than by the ORM (em.fork().map), which cost 5 % of a worker's CPU for the fields of one row.
    const object: ObjectToRun = {
      id: row.id,
      identifier: row.identifier,
      state: row.state,
      taskId: row.task_id,
      metadata: row.metadata,
      options: row.options,
      source: row.source,
      sourceInline: row.source_inline,
      // PostgreSQL's text (ISO date style, as the pool is set to return timestamptz), to the millisecond.
      createdAt: new Date(row.created_at),
      plan: row.plan,
      operationsStatus: row.operations_status,
    };
    return { object, startedOperation: row.next_operation, events: row.events };
  }

  /** Applies `patch` only while the object is processing, recording `event`; null means it no longer is (cancelled or deleted). */
  async updateWhileProcessing(id: string, patch: ObjectPatch, event: RecordedEvent): Promise<ObjectEventRecord | null> {
    return this.updateRecordingEvent({ id, states: ['processing'], patch, event });
  }

  /**
   * Applies `first` and then `second` (which may settle the object in `to`) only while the object is
   * processing, in one statement that records an event for each (versions v+1 and v+2, each with the snapshot
   * of its own change): `second` applies to the object as `first` left it. Both or neither; null means the
   * object is no longer processing.
   */
  async updateTwiceWhileProcessing(
    id: string,
    first: RecordedChange,
    second: RecordedChange & { to?: Extract<ObjectState, 'completed' | 'failed'> },
  ): Promise<ObjectEventRecord[] | null> {
    if (second.to) {
      assertTransition('processing', second.to);
    }
    const firstValues = new Map(columnChanges(first.patch, '').map((change) => [change.column, change]));
    const secondValues = new Map(columnChanges(second.patch, 'first.').map((change) => [change.column, change]));
    const changed = PATCHED_COLUMNS.filter((column) => firstValues.has(column) || secondValues.has(column));
    const recorded = await this.sql.prepared<ObjectEventRecord>(
      `with first as (
         select id, state, ${PATCHED_COLUMNS.map((column) => `${firstValues.get(column)?.sql ?? column} as ${column}`).join(', ')}
           from ${TABLE} where id = ? and state = 'processing' for update
       ), changed as (
         update ${TABLE} set ${[...(second.to ? ['state = ?'] : []), ...changed.map((column) => `${column} = ${secondValues.get(column)?.sql ?? `first.${column}`}`)].join(', ')}
           from first where ${TABLE}.id = first.id returning ${TABLE}.*
       ), recorded as (
         insert into object_events (object_id, seq, kind, operation, snapshot)
           select id, version, ?::text, ?::text, ${SNAPSHOT} from first where exists (select from changed)
           union all
           select id, version, ?::text, ?::text, ${SNAPSHOT} from changed
         returning seq, kind, operation, snapshot
       )
       select seq, kind, operation, snapshot from recorded order by seq`,
      [
        ...PATCHED_COLUMNS.flatMap((column) => firstValues.get(column)?.params ?? []),
        id,
        ...(second.to ? [second.to] : []),
        ...changed.flatMap((column) => secondValues.get(column)?.params ?? []),
        first.event.kind,
        first.event.operation,
        second.event.kind,
        second.event.operation,
      ],
    );
    return recorded.length === 2 ? recorded : null;
  }

  /**
   * Applies `patch` (and moves the object to `to`, when given) only while the object is still in
   * one of `states` under the job `taskId`; null when it no longer is.
   */
  async updateWhileTask(
    change: { id: string; taskId: string; states: readonly UnsettledState[]; to?: ObjectState },
    patch: ObjectPatch,
  ): Promise<ObjectEventRecord | null> {
    change.states.forEach((state) => change.to && assertTransition(state, change.to));
    return this.updateRecordingEvent({
      id: change.id,
      taskId: change.taskId,
      states: change.states,
      newState: change.to,
      patch,
      event: { kind: 'state_changed', operation: null },
    });
  }

  /**
   * Updates the object when it is in one of `states` (under the job `taskId`, when given), and records
   * the change as an event with the new version as its sequence number, in one statement.
   * Returns the recorded event; null when the object was not in one of `states`.
   */
  private async updateRecordingEvent(update: {
    id: string;
    taskId?: string;
    states: readonly ObjectState[];
    newState?: ObjectState;
    patch: ObjectPatch;
    event: RecordedEvent;
  }): Promise<ObjectEventRecord | null> {
    const { assignments, params } = patchAssignments(update.patch);
    const stateAssignment = update.newState ? ['state = ?'] : [];
    const taskCondition = update.taskId === undefined ? '' : ' and task_id = ?';
    const [recorded] = await this.sql.prepared<ObjectEventRecord>(
      `with changed as (
         update ${TABLE} set ${[...stateAssignment, ...assignments].join(', ')} where id = ? and state = any(?::text[])${taskCondition} returning *
       ), recorded as (
         insert into object_events (object_id, seq, kind, operation, snapshot) select id, version, ?::text, ?::text, ${SNAPSHOT} from changed
         returning seq, kind, operation, snapshot
       )
       select seq, kind, operation, snapshot from recorded`,
      [
        ...(update.newState ? [update.newState] : []),
        ...params,
        update.id,
        update.states,
        ...(update.taskId === undefined ? [] : [update.taskId]),
        update.event.kind,
        update.event.operation,
      ],
    );
    return recorded ?? null;
  }
}

/** An object startProcessing moved to processing: as running its plan reads it, the operation it started (if any) and its events, in order. */
export interface StartedObject {
  object: ObjectToRun;
  startedOperation: string | null;
  events: ObjectEventRecord[];
}

/** The row startProcessing reads back, with its events: json and bytea columns parsed by pg, timestamps as PostgreSQL's text. */
interface StartedRow {
  id: string;
  identifier: string;
  state: ObjectState;
  task_id: string | null;
  metadata: Record<string, unknown>;
  options: Record<string, unknown>;
  source: ObjectSource | null;
  source_inline: Buffer | null;
  created_at: string;
  plan: string[];
  operations_status: Record<string, OperationStatus>;
  next_operation: string | null;
  events: ObjectEventRecord[];
}

/**
 * Inserts the object as queued: the pending → queued step of the state table, taken at creation.
 * No event is recorded for it: events let a stream replay the changes a client missed, and nobody
 * can follow an object before it exists (a stream starts from the object's current snapshot).
 */
async function insertQueued(sql: SqlSession, object: NewObject, queued: QueuedFields): Promise<void> {
  assertTransition('pending', 'queued');
  const progress = { current: 0, total: object.plan.length, message: 'Queued for processing' };
  await sql.prepared(
    `insert into ${TABLE} (id, identifier, team, state, operations, plan, progress, task_id, source, source_inline, metadata, options, priority, attempts, idempotency_key, request_hash, webhook)
       values (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    [
      object.id,
      object.identifier,
      object.team,
      JSON.stringify(object.operations),
      JSON.stringify(object.plan),
      JSON.stringify(progress),
      queued.taskId,
      queued.source === null ? null : JSON.stringify(queued.source),
      queued.sourceInline ?? null,
      JSON.stringify(object.metadata),
      JSON.stringify(object.options),
      object.priority,
      object.idempotencyKey,
      object.requestHash,
      object.webhook === null ? null : JSON.stringify(object.webhook),
    ],
  );
}
