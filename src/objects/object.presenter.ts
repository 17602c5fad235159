import type { ObjectResponse, ProgressResponse } from './dto/object.responses';
import type { OperationStatus, ProcessingObject } from './processing-object.entity';

export type ProgressView = ProgressResponse;
export type ObjectView = ObjectResponse;

const NOT_STARTED: OperationStatus = {
  completed: false,
  s3_url: null,
  started_at: null,
  finished_at: null,
  duration_ms: null,
  attempts: 0,
  error: null,
};

/** The fields the progress view is made of, from an object row or from an event's snapshot. */
export type ProgressFields = Pick<
  ProcessingObject,
  'id' | 'identifier' | 'plan' | 'state' | 'currentOperation' | 'progress' | 'operationsStatus' | 's3Artifacts' | 'errorMessage'
>;

export function toProgressView(object: ProgressFields): ProgressView {
  return {
    id: object.id,
    identifier: object.identifier,
    state: object.state,
    current_operation: object.currentOperation ?? null,
    progress: object.progress,
    operations_status: Object.fromEntries(
      object.plan.map((operation) => [operation, { ...NOT_STARTED, ...object.operationsStatus[operation] }]),
    ),
    s3_artifacts: object.s3Artifacts,
    error_message: object.errorMessage ?? null,
  };
}

export function toObjectView(object: ProcessingObject): ObjectView {
  return {
    ...toProgressView(object),
    team: object.team,
    error_code: object.errorCode ?? null,
    error_fingerprint: object.errorFingerprint ?? null,
    operations: object.operations,
    plan: object.plan,
    task_id: object.taskId ?? null,
    source: object.source ?? null,
    metadata: object.metadata,
    options: object.options,
    priority: object.priority,
    attempts: object.attempts,
    created_at: object.createdAt.toISOString(),
    updated_at: object.updatedAt.toISOString(),
    started_at: object.startedAt?.toISOString() ?? null,
    finished_at: object.finishedAt?.toISOString() ?? null,
  };
}
