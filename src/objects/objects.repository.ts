import { Injectable } from '@nestjs/common';
import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import type { Pool } from 'pg';
import { InvalidTransitionError, ObjectNotFoundError } from '../common/domain-errors';
import type { ListPosition } from './list-cursor';
import { ObjectState, assertTransition, statesLeadingTo } from './object-state';
import { errorFingerprint } from './error-fingerprint';
import type { ObjectEventKind, ObjectSnapshot } from './object-event.entity';
import type { ProgressFields } from './object.presenter';
import { ObjectProgress, ObjectSource, ObjectWebhook, OperationStatus, ProcessingObject, ProcessingObjectSchema } from './processing-object.entity';

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

export interface RecentDurations {
  /** How many completed objects the means come from. */
  objects: number;
  operations: Record<string, { meanMs: number; runs: number }>;
}

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
  requestHash: string;
  webhook: ObjectWebhook | null;
}

export { UniqueConstraintViolationException };

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

interface UnsettledRow {
  id: string;
  task_id: string | null;
  priority: number;
  attempts: number;
  updated_at: string | Date;
  created_at_text: string;
}

export interface RecordedEvent {
  kind: ObjectEventKind;
  operation: string | null;
}

export interface ObjectEventRecord {
  seq: number;
  kind: ObjectEventKind;
  operation: string | null;
  snapshot: ObjectSnapshot;
}

const TABLE = 'processing_objects';

/**
 * PostgreSQL access for processing objects. Every write is a single conditional statement,
 * so concurrent API and worker processes never overwrite each other's state changes.
 */
@Injectable()
export class ObjectsRepository {
  private listed?: string;

  constructor(private readonly em: EntityManager) {}

  async findById(id: string): Promise<ProcessingObject | null> {
    return this.em.fork().findOne(ProcessingObjectSchema, { id }, { disableIdentityMap: true });
  }

  /** The object with its inline source's bytes, if it has one: what a plan runner resuming it needs. */
  async findForRun(id: string): Promise<ProcessingObject | null> {
    return this.em.fork().findOne(ProcessingObjectSchema, { id }, { disableIdentityMap: true, populate: ['sourceInline'] });
  }

  async findByIdentifier(identifier: string): Promise<ProcessingObject | null> {
    return this.em.fork().findOne(ProcessingObjectSchema, { identifier }, { disableIdentityMap: true });
  }

  /** The progress of an object, with its team: the hottest read of the API, one prepared statement on the ORM's pg pool. */
  async findProgressById(id: string): Promise<(ProgressFields & { team: string }) | null> {
    const [row] = await runPrepared<ProgressRow>(await this.pool(), SELECT_PROGRESS, [id], 'array');
    if (!row) {
      return null;
    }
    const [storedId, identifier, plan, state, currentOperation, progress, operationsStatus, s3Artifacts, errorMessage, team] = row;
    return { id: storedId, identifier, plan, state, currentOperation, progress, operationsStatus, s3Artifacts, errorMessage, team };
  }

  /** Creates the object directly as queued, in one statement. */
  async insertQueued(object: NewObject, queued: QueuedFields): Promise<void> {
    await this.convertingErrors(async () => insertQueued(await this.pool(), object, queued));
  }

  /** Creates the object as pending: its source is still being stored in S3. */
  async insertPending(object: NewObject): Promise<void> {
    await this.em.fork().insert(ProcessingObjectSchema, {
      ...object,
      state: 'pending',
      currentOperation: null,
      progress: { current: 0, total: object.plan.length, message: 'Waiting to be queued' },
      operationsStatus: {},
      s3Artifacts: {},
      errorMessage: null,
      errorCode: null,
      taskId: null,
      source: null,
      attempts: 0,
      version: 1,
      createdAt: new Date(),
      updatedAt: new Date(),
      startedAt: null,
      finishedAt: null,
    });
  }

  async getById(id: string): Promise<ProcessingObject> {
    const object = await this.findById(id);
    if (!object) {
      throw new ObjectNotFoundError(id);
    }
    return object;
  }

  /**
   * Moves the object to `to` when its current state allows it (per the transition table) and is
   * one of `from` if given. Returns the recorded event (its seq is the new version); throws when the object is gone or the change is refused.
   */
  async transition(id: string, to: ObjectState, patch: ObjectPatch = {}, from?: ObjectState[]): Promise<ObjectEventRecord> {
    return transition(await this.pool(), id, to, patch, from);
  }

  /**
   * Moves a queued object whose job is `taskId` to processing, records the event, and returns the
   * object as it now is, in one statement; null when it is not queued under that job.
   */
  async startProcessing(id: string, taskId: string, patch: ObjectPatch): Promise<{ object: ProcessingObject; event: ObjectEventRecord } | null> {
    assertTransition('queued', 'processing');
    const { assignments, params } = toAssignments(patch);
    const rows = await runPrepared<StartedRow>(
      await this.pool(),
      `with changed as (
         update ${TABLE} set state = 'processing', ${assignments.join(', ')} where id = ? and task_id = ? and state = 'queued' returning *
       ), recorded as (
         insert into object_events (object_id, seq, kind, operation, snapshot) select id, version, 'state_changed', null, ${SNAPSHOT} from changed
         returning seq, kind, operation, snapshot
       )
       select changed.*, recorded.seq as event_seq, recorded.kind as event_kind, recorded.operation as event_operation, recorded.snapshot as event_snapshot
         from changed cross join recorded`,
      [...params, id, taskId],
    );
    if (!rows[0]) {
      return null;
    }
    const { event_seq: seq, event_kind: kind, event_operation: operation, event_snapshot: snapshot, ...columns } = rows[0];
    return { object: this.em.fork().map(ProcessingObjectSchema, columns), event: { seq, kind, operation, snapshot } };
  }

  /** Applies `patch` only while the object is processing; null means it no longer is (cancelled or deleted). */
  async updateWhileProcessing(id: string, patch: ObjectPatch, event: RecordedEvent): Promise<ObjectEventRecord | null> {
    const rows = await updateRecordingEvent(await this.pool(), { id, states: ['processing'], patch, event });
    return rows[0] ?? null;
  }

  /**
   * Applies `first` and then `second` (which may settle the object in `to`) only while the object is
   * processing, in one statement with an event for each; null means it no longer is.
   */
  async updateTwiceWhileProcessing(
    id: string,
    first: RecordedChange,
    second: RecordedChange & { to?: Extract<ObjectState, 'completed' | 'failed'> },
  ): Promise<ObjectEventRecord[] | null> {
    const recorded = await updateTwiceRecordingEvents(await this.pool(), id, first, second);
    return recorded.length === 2 ? recorded : null;
  }

  /** The recorded events of an object after `afterSeq`, oldest first. */
  async eventsAfter(objectId: string, afterSeq: number, limit = 1000): Promise<ObjectEventRecord[]> {
    return this.em.getConnection().execute<ObjectEventRecord[]>(
      `select seq, kind, operation, snapshot from object_events where object_id = ? and seq > ? order by seq limit ?`,
      [objectId, afterSeq, limit],
    );
  }

  /**
   * The object's version: every change after its creation is recorded as the event of that sequence
   * number, so this is the latest event, or its creation (version 1, which records none); 0 once it is gone.
   */
  async currentVersion(objectId: string): Promise<number> {
    const rows = await this.em.getConnection().execute<{ version: number }[]>(`select version from ${TABLE} where id = ?`, [objectId]);
    return rows[0]?.version ?? 0;
  }

  async deleteById(id: string, states: readonly ObjectState[]): Promise<boolean> {
    const result = await this.em.getConnection().execute<{ affectedRows: number }>(
      `delete from ${TABLE} where id = ? and state in (?)`,
      [id, states],
      'run',
    );
    return result.affectedRows === 1;
  }

  /**
   * The next `limit` objects in `state` after `after`, oldest first: one step of a keyset sweep
   * over the index on (state, created_at, id), so each step reads only the rows it returns.
   */
  async findUnsettledAfter(state: UnsettledState, after: SweepPosition | null, limit: number): Promise<UnsettledObject[]> {
    const rows = await this.em.getConnection().execute<UnsettledRow[]>(
      `select id, task_id, priority, attempts, updated_at, created_at::text as created_at_text from ${TABLE}
        where state = ? ${after ? 'and (created_at, id) > (?::timestamptz, ?)' : ''}
        order by created_at, id limit ?`,
      after ? [state, after.createdAt, after.id, limit] : [state, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      state,
      taskId: row.task_id,
      priority: row.priority,
      attempts: row.attempts,
      updatedAt: new Date(row.updated_at),
      position: { createdAt: row.created_at_text, id: row.id },
    }));
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
    const rows = await updateRecordingEvent(await this.pool(), {
      id: change.id,
      taskId: change.taskId,
      states: change.states,
      newState: change.to,
      patch,
      event: { kind: 'state_changed', operation: null },
    });
    return rows[0] ?? null;
  }

  /** How many of the team's objects wait for a worker: uploads still arriving and queued objects. */
  async countWaiting(team: string): Promise<number> {
    const [row] = await runPrepared<{ count: string }>(await this.pool(), `select count(*) as count from ${TABLE} where team = ? and state in ('pending', 'queued')`, [team]);
    return Number(row?.count ?? 0);
  }

  /** How many objects are in each state: a team's, or every team's when `team` is undefined. */
  /**
   * Mean duration of each operation over the `limit` most recently completed objects (one bounded
   * range of the finished_at index), and how many objects that was: what queue estimates start from.
   */
  async recentOperationDurations(limit: number): Promise<RecentDurations> {
    const rows = await this.em.getConnection().execute<{ operation: string; mean_ms: number; runs: string; objects: string }[]>(
      `with recent as (
          select operations_status from ${TABLE} where state = 'completed' and finished_at is not null order by finished_at desc limit ?
        )
        select op.key as operation, avg((op.value->>'duration_ms')::float8) as mean_ms, count(*) as runs, (select count(*) from recent) as objects
          from recent, jsonb_each(recent.operations_status) op
          where jsonb_typeof(op.value->'duration_ms') = 'number'
          group by op.key`,
      [limit],
    );
    return {
      objects: Number(rows[0]?.objects ?? 0),
      operations: Object.fromEntries(rows.map((row) => [row.operation, { meanMs: Number(row.mean_ms), runs: Number(row.runs) }])),
    };
  }

  async countByState(team?: string): Promise<Record<ObjectState, number>> {
    const rows = await this.em.getConnection().execute<{ state: ObjectState; count: string }[]>(
      `select state, count(*) as count from ${TABLE} ${team === undefined ? '' : 'where team = ?'} group by state`,
      team === undefined ? [] : [team],
    );
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)])) as Record<ObjectState, number>;
  }

  /** How long the object queued longest ago has waited, in seconds (queued objects change only when they start or are cancelled); 0 when none waits. */
  async oldestQueuedAgeSeconds(): Promise<number> {
    const [row] = await this.em
      .getConnection()
      .execute<{ age: string | null }[]>(`select extract(epoch from now() - min(updated_at)) as age from ${TABLE} where state = 'queued'`);
    return Math.max(0, Number(row?.age ?? 0));
  }

  /**
   * A page of objects, newest first, each with its list position: created_at as PostgreSQL stores
   * it (to the microsecond, as text) and the id, so a cursor made from it resumes exactly after it.
   */
  async list(filter: ObjectListFilter): Promise<ListedObject[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const where = (condition: string, ...values: unknown[]) => {
      conditions.push(condition);
      params.push(...values);
    };
    if (filter.team !== undefined) {
      where('team = ?', filter.team);
    }
    if (filter.state) {
      where('state = ?', filter.state);
    }
    if (filter.identifierPrefix) {
      where('identifier like ?', `${escapeLike(filter.identifierPrefix)}%`);
    }
    if (filter.operation) {
      where('plan @> ?::jsonb', JSON.stringify([filter.operation]));
    }
    if (filter.createdAfter) {
      where('created_at >= ?', filter.createdAfter);
    }
    if (filter.createdBefore) {
      where('created_at < ?', filter.createdBefore);
    }
    if (filter.errorCode !== undefined || filter.errorFingerprint !== undefined || filter.failedAfter || filter.failedBefore) {
      where(`state = 'failed'`);
    }
    if (filter.errorCode !== undefined) {
      where('error_code = ?', filter.errorCode);
    }
    if (filter.errorFingerprint !== undefined) {
      where('error_fingerprint = ?', filter.errorFingerprint);
    }
    if (filter.failedAfter) {
      where('finished_at >= ?', filter.failedAfter);
    }
    if (filter.failedBefore) {
      where('finished_at < ?', filter.failedBefore);
    }
    if (filter.after) {
      // A row comparison, not `created_at < ? or (created_at = ? and id < ?)`: only this form bounds
      // the (created_at desc, id desc) index scans, so a deep page costs no more than the first one.
      where('(created_at, id) < (?::timestamptz, ?::uuid)', filter.after.createdAt, filter.after.id);
    }
    const rows = await this.em.getConnection().execute<(Record<string, unknown> & { list_created_at: string })[]>(
      `select ${this.listedColumns()}, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as list_created_at from ${TABLE}
        ${conditions.length > 0 ? `where ${conditions.join(' and ')}` : ''} order by created_at desc, id desc limit ?`,
      [...params, filter.limit],
    );
    const em = this.em.fork();
    return rows.map(({ list_created_at: createdAt, ...columns }) => {
      const object = em.map(ProcessingObjectSchema, columns);
      return { object, position: { createdAt, id: object.id } };
    });
  }

  /** The columns a listed object is read from: all but the lazy ones (an inline source's bytes). */
  private listedColumns(): string {
    this.listed ??= this.em
      .getMetadata(ProcessingObjectSchema)
      .props.filter((property) => !property.lazy)
      .flatMap((property) => property.fieldNames)
      .join(', ');
    return this.listed;
  }

  /**
   * The ORM's own pg pool, for the hottest statements: a parameterized (or prepared) query on it
   * costs a fraction of the CPU of the ORM's query path, here and in PostgreSQL.
   */
  private pool(): Promise<Pool> {
    return this.em.getConnection().getNativeClient();
  }

  /** Raises pg's errors as the ORM's exceptions (an identifier clash is UniqueConstraintViolationException). */
  private async convertingErrors<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.em.getPlatform().getExceptionConverter().convertException(error as Error);
    }
  }
}

/**
 * The progress columns, read as arrays of values: one row shape and no property names to set
 * for every row of the API's hottest read.
 */
const SELECT_PROGRESS = `select id, identifier, plan, state, current_operation, progress, operations_status, s3_artifacts, error_message, team
  from ${TABLE} where id = ?`;

type ProgressRow = [
  id: string,
  identifier: string,
  plan: string[],
  state: ObjectState,
  currentOperation: string | null,
  progress: ObjectProgress,
  operationsStatus: Record<string, OperationStatus>,
  s3Artifacts: Record<string, string>,
  errorMessage: string | null,
  team: string,
];

/** What a submission knows of its object once it is queued. */
export interface QueuedFields {
  taskId: string;
  source: ObjectSource | null;
  /** The source's bytes, for a source kept inline (it has no s3_url). */
  sourceInline?: Buffer;
}

interface StartedRow extends Record<string, unknown> {
  event_seq: number;
  event_kind: ObjectEventKind;
  event_operation: string | null;
  event_snapshot: ObjectSnapshot;
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

async function transition(pool: Pool, id: string, to: ObjectState, patch: ObjectPatch, from?: ObjectState[]): Promise<ObjectEventRecord> {
  const allowedFrom = from ?? statesLeadingTo(to);
  allowedFrom.forEach((state) => assertTransition(state, to));
  const operation = patch.operationStatus?.operation ?? patch.currentOperation ?? null;
  const rows = await updateRecordingEvent(pool, { id, states: allowedFrom, newState: to, patch, event: { kind: 'state_changed', operation } });
  if (rows[0]) {
    return rows[0];
  }
  const { rows: current } = await pool.query<{ state: ObjectState }>(`select state from ${TABLE} where id = $1`, [id]);
  if (!current[0]) {
    throw new ObjectNotFoundError(id);
  }
  throw new InvalidTransitionError(current[0].state, to);
}

const SNAPSHOT = `jsonb_build_object('state', state, 'currentOperation', current_operation, 'progress', progress,
  'operationsStatus', operations_status, 's3Artifacts', s3_artifacts, 'errorMessage', error_message)`;

/**
 * Inserts the object as queued: the pending → queued step of the state table, taken at creation.
 * No event is recorded for it: events let a stream replay the changes a client missed, and nobody
 * can follow an object before it exists (a stream starts from the object's current snapshot).
 * An identifier clash raises pg's unique violation.
 */
async function insertQueued(db: Pool, object: NewObject, queued: QueuedFields): Promise<void> {
  assertTransition('pending', 'queued');
  const progress = { current: 0, total: object.plan.length, message: 'Queued for processing' };
  await runPrepared(
    db,
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

/**
 * Updates the object when it is in one of `states`, and records the change as an event with
 * the new version as its sequence number, in one statement: no change goes unrecorded.
 * Returns the recorded event (none when the object was not in one of `states`).
 */
async function updateRecordingEvent(
  pool: Pool,
  update: { id: string; taskId?: string; states: readonly ObjectState[]; newState?: ObjectState; patch: ObjectPatch; event: RecordedEvent },
): Promise<ObjectEventRecord[]> {
  const { assignments, params } = toAssignments(update.patch);
  const stateAssignment = update.newState ? ['state = ?'] : [];
  const taskCondition = update.taskId === undefined ? '' : ' and task_id = ?';
  return runPrepared<ObjectEventRecord>(
    pool,
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
}

const preparedStatements = new Map<string, { name: string; text: string }>();

/**
 * Runs `sql`, written with a `?` for each of `params` in order (these statements use no `?` operator),
 * as a prepared statement named after its text: each pool connection parses and plans each statement
 * once, which for the inserts and updates with their events is most of PostgreSQL's work.
 * With `rowMode: 'array'` each row is an array of its columns in select order.
 */
async function runPrepared<R>(db: Pool, sql: string, params: unknown[], rowMode?: 'array'): Promise<R[]> {
  let statement = preparedStatements.get(sql);
  if (!statement) {
    let position = 0;
    statement = { name: `objects-${preparedStatements.size + 1}`, text: sql.replace(/\?/g, () => `$${++position}`) };
    preparedStatements.set(sql, statement);
  }
  const query = { ...statement, values: params };
  const { rows } = rowMode ? await db.query({ ...query, rowMode }) : await db.query(query);
  return rows as R[];
}

/** A column's new value as SQL, built up by wrapping, with its parameters in textual order. */
class ColumnExpression {
  constructor(
    public sql: string,
    public params: unknown[] = [],
  ) {}

  wrap(before: string, after: string, ...params: unknown[]): void {
    this.sql = `${before}${this.sql}${after}`;
    this.params = [...this.params, ...params];
  }
}

function toAssignments(patch: ObjectPatch): { assignments: string[]; params: unknown[] } {
  const columns = columnChanges(patch, '');
  return { assignments: columns.map(({ column, sql }) => `${column} = ${sql}`), params: columns.flatMap((change) => change.params) };
}

interface ColumnChange {
  column: string;
  sql: string;
  params: unknown[];
}

/**
 * The new value of each column `patch` changes, as SQL over the columns of `from` (a table alias and a dot,
 * or '' for the row updated), each with its parameters in textual order.
 */
function columnChanges(patch: ObjectPatch, from: string): ColumnChange[] {
  const columns: ColumnChange[] = [
    { column: 'version', sql: `${from}version + 1`, params: [] },
    { column: 'updated_at', sql: 'now()', params: [] },
  ];
  const set = (column: string, sql: string, ...params: unknown[]) => {
    columns.push({ column, sql, params });
  };
  const progress = new ColumnExpression(patch.progress ? '?::jsonb' : `${from}progress`, patch.progress ? [JSON.stringify(patch.progress)] : []);
  const rerun = patch.rerunOperations;
  const artifacts =
    rerun === 'all'
      ? new ColumnExpression(`'{}'::jsonb`)
      : rerun
        ? new ColumnExpression(`(${from}s3_artifacts - ?::text[])`, [rerun])
        : new ColumnExpression(`${from}s3_artifacts`);
  const statuses = rerun === 'all' ? `'{}'::jsonb` : `${from}operations_status`;

  if (patch.completedOperation) {
    artifacts.wrap('(', ' || jsonb_build_object(?::text, ?::text))', patch.completedOperation.operation, patch.completedOperation.s3Url);
  }
  if (rerun || patch.completedOperation) {
    progress.wrap('jsonb_set(', `, '{current}', to_jsonb((select count(*) from jsonb_object_keys(${artifacts.sql}))))`, ...artifacts.params);
  }
  if (patch.progressMessage !== undefined) {
    progress.wrap('jsonb_set(', `, '{message}', to_jsonb(?::text))`, patch.progressMessage);
  }
  if (progress.sql !== `${from}progress`) set('progress', progress.sql, ...progress.params);
  if (artifacts.sql !== `${from}s3_artifacts`) set('s3_artifacts', artifacts.sql, ...artifacts.params);
  if (patch.operationStatus) {
    const { operation, status } = patch.operationStatus;
    set(
      'operations_status',
      `jsonb_set(${statuses}, array[?::text], coalesce(${statuses} -> ?::text, '{}'::jsonb) || ?::jsonb)`,
      operation,
      operation,
      JSON.stringify(status),
    );
  } else if (rerun === 'all') {
    set('operations_status', `'{}'::jsonb`);
  } else if (rerun) {
    set('operations_status', `${from}operations_status - ?::text[]`, rerun);
  }
  if (patch.currentOperation !== undefined) set('current_operation', '?', patch.currentOperation);
  if (patch.errorMessage !== undefined) {
    set('error_message', '?', patch.errorMessage);
    set('error_fingerprint', '?', patch.errorMessage === null ? null : errorFingerprint(patch.errorCode ?? null, patch.errorMessage));
  }
  if (patch.errorCode !== undefined) set('error_code', '?', patch.errorCode);
  if (patch.taskId !== undefined) set('task_id', '?', patch.taskId);
  if (patch.source !== undefined) set('source', '?::jsonb', JSON.stringify(patch.source));
  if (patch.incrementAttempts) set('attempts', `${from}attempts + 1`);
  if (patch.markStarted) set('started_at', `coalesce(${from}started_at, now())`);
  if (patch.markFinished) set('finished_at', 'now()');
  if (patch.clearFinished) set('finished_at', 'null');
  return columns;
}

/** Every column a patch may change: what the first of two changes in one statement hands to the second. */
const PATCHED_COLUMNS = [
  'version',
  'updated_at',
  'progress',
  's3_artifacts',
  'operations_status',
  'current_operation',
  'error_message',
  'error_fingerprint',
  'error_code',
  'task_id',
  'source',
  'attempts',
  'started_at',
  'finished_at',
];

/** One change of an object and the event that records it. */
export interface RecordedChange {
  patch: ObjectPatch;
  event: RecordedEvent;
}

/**
 * Two changes of a processing object in one statement, each recorded as an event of its own (versions v+1
 * and v+2, each with its snapshot): `first` applies to the object as it is, `second` to the object as `first`
 * left it and may move it to `to`. Both or neither: none when the object is no longer processing.
 */
async function updateTwiceRecordingEvents(
  pool: Pool,
  id: string,
  first: RecordedChange,
  second: RecordedChange & { to?: ObjectState },
): Promise<ObjectEventRecord[]> {
  if (second.to) {
    assertTransition('processing', second.to);
  }
  const firstValues = new Map(columnChanges(first.patch, '').map((change) => [change.column, change]));
  const secondValues = new Map(columnChanges(second.patch, 'first.').map((change) => [change.column, change]));
  const carried = PATCHED_COLUMNS.filter((column) => firstValues.has(column) || secondValues.has(column));
  return runPrepared<ObjectEventRecord>(
    pool,
    `with first as (
       select id, state, ${PATCHED_COLUMNS.map((column) => `${firstValues.get(column)?.sql ?? column} as ${column}`).join(', ')}
         from ${TABLE} where id = ? and state = 'processing' for update
     ), changed as (
       update ${TABLE} set ${[...(second.to ? ['state = ?'] : []), ...carried.map((column) => `${column} = ${secondValues.get(column)?.sql ?? `first.${column}`}`)].join(', ')}
         from first where ${TABLE}.id = first.id returning ${TABLE}.*
     ), recorded as (
       insert into object_events (object_id, seq, kind, operation, snapshot)
         select id, version, ?::text, ?::text, ${SNAPSHOT} from first where exists (select from changed)
         union all
         select changed.id, changed.version, ?::text, ?::text, ${SNAPSHOT} from changed
       returning seq, kind, operation, snapshot
     )
     select seq, kind, operation, snapshot from recorded order by seq`,
    [
      ...PATCHED_COLUMNS.flatMap((column) => firstValues.get(column)?.params ?? []),
      id,
      ...(second.to ? [second.to] : []),
      ...carried.flatMap((column) => secondValues.get(column)?.params ?? []),
      first.event.kind,
      first.event.operation,
      second.event.kind,
      second.event.operation,
    ],
  );
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
