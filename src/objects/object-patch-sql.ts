import { errorFingerprint } from './error-fingerprint';
import type { ObjectPatch } from './object-records';

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

/**
 * The SET assignments of an UPDATE of processing_objects that applies `patch` (each with a `?` for each of
 * its params, in order), the version and updated_at included: every change of an object is a new version.
 */
export function patchAssignments(patch: ObjectPatch): { assignments: string[]; params: unknown[] } {
  const columns = columnChanges(patch, '');
  return { assignments: columns.map(({ column, sql }) => `${column} = ${sql}`), params: columns.flatMap((change) => change.params) };
}

/** One column's new value: SQL with a `?` for each of its params, in order. */
export interface ColumnChange {
  column: string;
  sql: string;
  params: unknown[];
}

/**
 * The new value of each column `patch` changes (version and updated_at included), as SQL over the columns of
 * `from`: a table alias and a dot, or '' for the row being updated.
 */
export function columnChanges(patch: ObjectPatch, from: string): ColumnChange[] {
  const columns: ColumnChange[] = [
    { column: 'version', sql: `${from}version + 1`, params: [] },
    { column: 'updated_at', sql: 'now()', params: [] },
  ];
  const set = (column: string, sql: string, ...params: unknown[]) => {
    columns.push({ column, sql, params });
  };
  const progress = new ColumnExpression(
    patch.progress ? '?::jsonb' : `${from}progress`,
    patch.progress ? [JSON.stringify(patch.progress)] : [],
  );
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
    progress.wrap(
      'jsonb_set(',
      `, '{current}', to_jsonb((select count(*) from jsonb_object_keys(${artifacts.sql}))))`,
      ...artifacts.params,
    );
  }
  if (patch.progressMessage !== undefined) {
    progress.wrap('jsonb_set(', `, '{message}', to_jsonb(?::text))`, patch.progressMessage);
  }
  if (progress.sql !== `${from}progress`) {
    set('progress', progress.sql, ...progress.params);
  }
  if (artifacts.sql !== `${from}s3_artifacts`) {
    set('s3_artifacts', artifacts.sql, ...artifacts.params);
  }
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
  if (patch.currentOperation !== undefined) {
    set('current_operation', '?', patch.currentOperation);
  }
  if (patch.errorMessage !== undefined) {
    set('error_message', '?', patch.errorMessage);
    set('error_fingerprint', '?', patch.errorMessage === null ? null : errorFingerprint(patch.errorCode ?? null, patch.errorMessage));
  }
  if (patch.errorCode !== undefined) {
    set('error_code', '?', patch.errorCode);
  }
  if (patch.taskId !== undefined) {
    set('task_id', '?', patch.taskId);
  }
  if (patch.source !== undefined) {
    set('source', '?::jsonb', JSON.stringify(patch.source));
  }
  if (patch.incrementAttempts) {
    set('attempts', `${from}attempts + 1`);
  }
  if (patch.markStarted) {
    set('started_at', `coalesce(${from}started_at, now())`);
  }
  if (patch.markFinished) {
    set('finished_at', 'now()');
  }
  if (patch.clearFinished) {
    set('finished_at', 'null');
  }
  return columns;
}

/** Every column a patch may change: what the first of two changes in one statement hands on to the second. */
export const PATCHED_COLUMNS = [
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
