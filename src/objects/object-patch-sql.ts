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
  const assignments = ['version = version + 1', 'updated_at = now()'];
  const params: unknown[] = [];
  const set = (sql: string, ...values: unknown[]) => {
    assignments.push(sql);
    params.push(...values);
  };
  const progress = new ColumnExpression(patch.progress ? '?::jsonb' : 'progress', patch.progress ? [JSON.stringify(patch.progress)] : []);
  const rerun = patch.rerunOperations;
  const artifacts =
    rerun === 'all' ? new ColumnExpression(`'{}'::jsonb`) : rerun ? new ColumnExpression('(s3_artifacts - ?::text[])', [rerun]) : new ColumnExpression('s3_artifacts');
  const statuses = rerun === 'all' ? `'{}'::jsonb` : 'operations_status';

  if (patch.completedOperation) {
    artifacts.wrap('(', ' || jsonb_build_object(?::text, ?::text))', patch.completedOperation.operation, patch.completedOperation.s3Url);
  }
  if (rerun || patch.completedOperation) {
    progress.wrap('jsonb_set(', `, '{current}', to_jsonb((select count(*) from jsonb_object_keys(${artifacts.sql}))))`, ...artifacts.params);
  }
  if (patch.progressMessage !== undefined) {
    progress.wrap('jsonb_set(', `, '{message}', to_jsonb(?::text))`, patch.progressMessage);
  }
  if (progress.sql !== 'progress') set(`progress = ${progress.sql}`, ...progress.params);
  if (artifacts.sql !== 's3_artifacts') set(`s3_artifacts = ${artifacts.sql}`, ...artifacts.params);
  if (patch.operationStatus) {
    const { operation, status } = patch.operationStatus;
    set(
      `operations_status = jsonb_set(${statuses}, array[?::text], coalesce(${statuses} -> ?::text, '{}'::jsonb) || ?::jsonb)`,
      operation,
      operation,
      JSON.stringify(status),
    );
  } else if (rerun === 'all') {
    set(`operations_status = '{}'::jsonb`);
  } else if (rerun) {
    set('operations_status = operations_status - ?::text[]', rerun);
  }
  if (patch.currentOperation !== undefined) set('current_operation = ?', patch.currentOperation);
  if (patch.errorMessage !== undefined) {
    set('error_message = ?', patch.errorMessage);
    set('error_fingerprint = ?', patch.errorMessage === null ? null : errorFingerprint(patch.errorCode ?? null, patch.errorMessage));
  }
  if (patch.errorCode !== undefined) set('error_code = ?', patch.errorCode);
  if (patch.taskId !== undefined) set('task_id = ?', patch.taskId);
  if (patch.source !== undefined) set('source = ?::jsonb', JSON.stringify(patch.source));
  if (patch.incrementAttempts) set('attempts = attempts + 1');
  if (patch.markStarted) set('started_at = coalesce(started_at, now())');
  if (patch.markFinished) set('finished_at = now()');
  if (patch.clearFinished) set('finished_at = null');
  return { assignments, params };
}
