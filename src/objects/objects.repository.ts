import { Injectable } from '@nestjs/common';
import { EntityManager, raw } from '@mikro-orm/postgresql';
import { ObjectNotFoundError } from '../common/domain-errors';
import { Sql } from '../database/sql';
import type {
  ListedObject,
  NewObject,
  ObjectListFilter,
  RecentDurations,
  SweepPosition,
  UnsettledObject,
  UnsettledState,
} from './object-records';
import type { ObjectState } from './object-state';
import type { ProgressFields } from './object.presenter';
import { ObjectProgress, OperationStatus, ProcessingObject, ProcessingObjectSchema } from './processing-object.entity';

const TABLE = 'processing_objects';

/**
 * Reads of processing objects, and the writes that change no state (ObjectStateStore makes those).
 * Through the ORM, each on a fork of its own; the few in SQL (Sql) say why.
 */
@Injectable()
export class ObjectsRepository {
  private listed?: string;

  constructor(
    private readonly em: EntityManager,
    private readonly sql: Sql,
  ) {}

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

  async getById(id: string): Promise<ProcessingObject> {
    const object = await this.findById(id);
    if (!object) {
      throw new ObjectNotFoundError(id);
    }
    return object;
  }

  /**
   * The progress of an object, with its team. The hottest read of the API (GET /api/v1/progress/{id}): a
   * prepared statement with array rows takes a fraction of the ORM's CPU per read (bench/scenarios/throughput.js).
   */
  async findProgressById(id: string): Promise<(ProgressFields & { team: string }) | null> {
    const [row] = await this.sql.preparedArrays<ProgressRow>(
      `select id, identifier, plan, state, current_operation, progress, operations_status, s3_artifacts, error_message, team from ${TABLE} where id = ?`,
      [id],
    );
    if (!row) {
      return null;
    }
    const [storedId, identifier, plan, state, currentOperation, progress, operationsStatus, s3Artifacts, errorMessage, team] = row;
    return { id: storedId, identifier, plan, state, currentOperation, progress, operationsStatus, s3Artifacts, errorMessage, team };
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

  /** Deletes the object if it is in one of `states` (its events go by cascade); false when it is not. */
  async deleteById(id: string, states: readonly ObjectState[]): Promise<boolean> {
    return (await this.em.fork().nativeDelete(ProcessingObjectSchema, { id, state: { $in: [...states] } })) === 1;
  }

  /**
   * How many of the team's objects wait for a worker: uploads still arriving and queued objects. Read by
   * every submission (the team's cap): a prepared statement, at a fifth of the CPU of the ORM's count.
   */
  async countWaiting(team: string): Promise<number> {
    const [row] = await this.sql.prepared<{ count: string }>(
      `select count(*) as count from ${TABLE} where team = ? and state in ('pending', 'queued')`,
      [team],
    );
    return Number(row?.count ?? 0);
  }

  /** How many objects are in each state: a team's, or every team's when `team` is undefined. */
  async countByState(team?: string): Promise<Record<ObjectState, number>> {
    const rows = await this.em
      .fork()
      .createQueryBuilder(ProcessingObjectSchema)
      .select(['state', raw('count(*) as count')])
      .where(team === undefined ? {} : { team })
      .groupBy('state')
      .execute<{ state: ObjectState; count: string }[]>();
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)])) as Record<ObjectState, number>;
  }

  /** How long the object queued longest ago has waited, in seconds (queued objects change only when they start or are cancelled); 0 when none waits. */
  async oldestQueuedAgeSeconds(): Promise<number> {
    const row = await this.em
      .fork()
      .createQueryBuilder(ProcessingObjectSchema)
      .select(raw('extract(epoch from now() - min(updated_at)) as age'))
      .where({ state: 'queued' })
      .execute<{ age: string | null } | null>('get');
    return Math.max(0, Number(row?.age ?? 0));
  }

  /**
   * Mean duration of each operation over the `limit` most recently completed objects (one bounded
   * range of the finished_at index), and how many objects that was: what queue estimates start from.
   * In SQL: it aggregates the keys of a JSON column.
   */
  async recentOperationDurations(limit: number): Promise<RecentDurations> {
    const rows = await this.sql.query<{ operation: string; mean_ms: number; runs: string; objects: string }>(
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

  /**
   * The next `limit` objects in `state` after `after`, oldest first: one step of a keyset sweep
   * over the index on (state, created_at, id), so each step reads only the rows it returns. In SQL:
   * the position keeps created_at to the microsecond, as text (a JavaScript Date keeps milliseconds).
   */
  async findUnsettledAfter(state: UnsettledState, after: SweepPosition | null, limit: number): Promise<UnsettledObject[]> {
    const rows = await this.sql.query<UnsettledRow>(
      `select id, task_id, priority, attempts, updated_at, created_at::text as created_at_text from ${TABLE}
        where state = ? ${after ? 'and (created_at, id) > (?::timestamptz, ?::uuid)' : ''}
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
   * A page of objects, newest first, each with its list position: created_at as PostgreSQL stores
   * it (to the microsecond, as text) and the id, so a cursor made from it resumes exactly after it.
   * In SQL for that position and for the row comparison below; planned for each call's filter values.
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
    const rows = await this.sql.query<Record<string, unknown> & { list_created_at: string }>(
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
}

/** The progress columns, as an array in select order. */
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

interface UnsettledRow {
  id: string;
  task_id: string | null;
  priority: number;
  attempts: number;
  updated_at: string | Date;
  created_at_text: string;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
