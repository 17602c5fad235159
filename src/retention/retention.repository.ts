import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql';
import { SETTLED_STATES } from '../objects/object-state';

export interface ExpiredObject {
  id: string;
  identifier: string;
  taskId: string | null;
}

/** Counted no further: status reports "at least this many" beyond it, at the cost of one bounded index range read. */
export const RETENTION_COUNT_CAP = 10_000;

/** The rows retention reads and removes: settled objects by finished_at, over its index. */
@Injectable()
export class RetentionRepository {
  constructor(private readonly sql: Sql) {}

  /**
   * Deletes up to `limit` settled objects that finished before `cutoff`, oldest first, in one statement
   * (their events and idempotency keys go by cascade). The state is checked by the DELETE itself, on
   * rows it has locked: an object retried meanwhile is live again and stays. Rows locked by a running
   * transition are skipped, for a later run.
   */
  async deleteFinishedBefore(cutoff: Date, limit: number): Promise<ExpiredObject[]> {
    const rows = await this.sql.query<{ id: string; identifier: string; task_id: string | null }>(
      `delete from processing_objects where id in (
          select id from processing_objects where finished_at < ? and state = any(?::text[]) order by finished_at limit ? for update skip locked
        ) and finished_at < ? and state = any(?::text[])
        returning id, identifier, task_id`,
      [cutoff, SETTLED_STATES, limit, cutoff, SETTLED_STATES],
    );
    return rows.map((row) => ({ id: row.id, identifier: row.identifier, taskId: row.task_id }));
  }

  /** How many settled objects (of `team`, or of all teams) finished before `cutoff`, counted up to RETENTION_COUNT_CAP. */
  async countFinishedBefore(cutoff: Date, team: string | undefined): Promise<number> {
    const [row] = await this.sql.query<{ count: string }>(
      `select count(*) as count from (
          select 1 from processing_objects where finished_at < ? and state = any(?::text[]) ${team === undefined ? '' : 'and team = ?'} limit ?
        ) expired`,
      team === undefined ? [cutoff, SETTLED_STATES, RETENTION_COUNT_CAP] : [cutoff, SETTLED_STATES, team, RETENTION_COUNT_CAP],
    );
    return Number(row?.count ?? 0);
  }

  async identifierInUse(identifier: string): Promise<boolean> {
    const rows = await this.sql.query('select 1 from processing_objects where identifier = ?', [identifier]);
    return rows.length > 0;
  }
}
