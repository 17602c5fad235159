import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { OBJECT_STATES, type ObjectState } from '../object-state';

const OBJECT_ID = '550e8400-e29b-41d4-a716-446655440000';

export class OperationStatusResponse {
  @ApiProperty({ example: true }) completed!: boolean;
  @ApiProperty({ type: String, nullable: true, example: 's3://object-artifacts/object-123/validate_result.json' }) s3_url!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: '2026-01-01T12:00:00.120Z' }) started_at!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: '2026-01-01T12:00:00.345Z' }) finished_at!: string | null;
  @ApiProperty({ type: Number, nullable: true, example: 225 }) duration_ms!: number | null;
  @ApiProperty({ example: 1 }) attempts!: number;
  @ApiProperty({ type: String, nullable: true, example: null, description: 'Why the operation failed; null unless it did' }) error!:
    string | null;
  @ApiPropertyOptional({
    type: [String],
    description: 'Further files the operation wrote',
    example: ['s3://object-artifacts/object-123/thumbnail/100x100.webp'],
  })
  files?: string[];
}

export class ProgressCounts {
  @ApiProperty({ description: 'Operations finished', example: 2 }) current!: number;
  @ApiProperty({ description: 'Length of the plan', example: 4 }) total!: number;
  @ApiProperty({ example: 'Executing transform' }) message!: string;
}

export class ObjectSourceResponse {
  @ApiProperty({ example: 'application/json' }) content_type!: string;
  @ApiProperty({ example: 27 }) size!: number;
  @ApiProperty({ example: '0a3f5c1e9b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a' }) sha256!: string;
  @ApiPropertyOptional({
    example: 's3://object-artifacts/object-123/source/upload.csv',
    description:
      'Where the source is stored (an upload, or a payload over PAYLOAD_INLINE_MAX_BYTES); absent for a payload kept with the object',
  })
  s3_url?: string;
  @ApiPropertyOptional({ description: 'The uploaded file name, for multipart uploads', example: 'customers.csv' }) filename?: string;
}

export class ProgressResponse {
  @ApiProperty({ format: 'uuid', example: OBJECT_ID }) id!: string;
  @ApiProperty({ example: 'object-123' }) identifier!: string;
  @ApiProperty({ enum: OBJECT_STATES, example: 'processing' }) state!: ObjectState;
  @ApiProperty({ type: String, nullable: true, example: 'transform' }) current_operation!: string | null;
  @ApiProperty({ type: ProgressCounts }) progress!: ProgressCounts;
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: '#/components/schemas/OperationStatusResponse' },
    example: {
      validate: {
        completed: true,
        s3_url: 's3://object-artifacts/object-123/validate_result.json',
        started_at: '2026-01-01T12:00:00.120Z',
        finished_at: '2026-01-01T12:00:00.345Z',
        duration_ms: 225,
        attempts: 1,
        error: null,
      },
      transform: {
        completed: false,
        s3_url: null,
        started_at: '2026-01-01T12:00:00.350Z',
        finished_at: null,
        duration_ms: null,
        attempts: 1,
        error: null,
      },
    },
  })
  operations_status!: Record<string, OperationStatusResponse>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { validate: 's3://object-artifacts/object-123/validate_result.json' },
  })
  s3_artifacts!: Record<string, string>;
  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'Why the object failed, in words a user can act on; null unless it did',
  })
  error_message!: string | null;
}

export const WAIT_REASONS = [
  'paused',
  'no_workers',
  'global_limit',
  'higher_priority',
  'earlier_submissions',
  'retry_backoff',
  'not_in_queue',
] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

export class WaitingResponse {
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 4,
    description:
      'Its place among the jobs waiting to start, across all teams (the queue is shared): 1 starts next. Null when its job is not waiting to start (a retry backoff, or no job)',
  })
  position!: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 2, description: 'How many of the jobs ahead of it have a higher priority' })
  higher_priority_ahead!: number | null;
  @ApiProperty({
    type: 'array',
    items: { type: 'string', enum: [...WAIT_REASONS] },
    example: ['global_limit', 'higher_priority', 'earlier_submissions'],
    description:
      'What holds it, as far as the service can tell: paused (POST /api/v1/queue/pause), no_workers (no worker process is connected), global_limit ' +
      '(MAX_PARALLEL_WORKERS objects are running), higher_priority / earlier_submissions (jobs ahead of it), retry_backoff (its job waits out a retry ' +
      'delay or an unreachable dependency), not_in_queue (its job is missing; the reconciler adds it again). Per-team limits act on submissions, never on queued objects.',
  })
  held_by!: WaitReason[];
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 12.5,
    description:
      'Rough seconds until it starts, from recent operation durations, the jobs ahead and MAX_PARALLEL_WORKERS; null while paused, without workers or without history',
  })
  estimated_start_seconds!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 3.2,
    description: 'Rough seconds its remaining operations take, from their recent mean durations; null without history for one of them',
  })
  estimated_run_seconds!: number | null;
  @ApiProperty({ example: 100, description: 'How many recently completed objects the estimates come from' })
  estimate_sample_size!: number;
}

/** GET /api/v1/progress/{object_id}: the progress, and for a queued object why it waits. */
@ApiExtraModels(WaitingResponse)
export class ProgressWithWaitingResponse extends ProgressResponse {
  @ApiPropertyOptional({
    allOf: [{ $ref: getSchemaPath(WaitingResponse) }],
    description:
      'Only for a queued object: its place in the queue, what holds it and rough estimates; absent in any other state. Only this endpoint computes it (not the object view, lists or the event stream, whose events are this view without it)',
  })
  waiting?: WaitingResponse;
}

@ApiExtraModels(ObjectSourceResponse)
export class ObjectResponse extends ProgressResponse {
  @ApiProperty({ example: 'billing', description: 'The team of the API key that submitted it' }) team!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description:
      "Why a failed object failed: invalid_content (its content), budget_exceeded (an operation's time or memory), operation_failed (anything else, after every attempt)",
  })
  error_code!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'The same for failures of the same cause (error_code and message without numbers and ids): filter and retry by it',
  })
  error_fingerprint!: string | null;
  @ApiProperty({ type: [String], example: ['validate', 'transform', 'analyze'] }) operations!: string[];
  @ApiProperty({ type: [String], example: ['validate', 'transform', 'enrich', 'analyze'] }) plan!: string[];
  @ApiProperty({ type: String, nullable: true, example: `${OBJECT_ID}.1`, description: 'Queue job id' }) task_id!: string | null;
  // OpenAPI 3.0 cannot make a $ref nullable in place (`nullable` beside `allOf` leaves the $ref refusing null): null is a branch of its own.
  @ApiProperty({
    oneOf: [{ $ref: getSchemaPath(ObjectSourceResponse) }, { type: 'object', nullable: true, enum: [null], example: null }],
    example: null,
    description: 'The stored content; null when the object has none',
  })
  source!: ObjectSourceResponse | null;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { source: 'crm' } }) metadata!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { export: { format: 'csv' } } }) options!: Record<string, unknown>;
  @ApiProperty({ example: 5 }) priority!: number;
  @ApiProperty({ description: 'Times the object was queued', example: 1 }) attempts!: number;
  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.000Z' }) created_at!: string;
  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.350Z' }) updated_at!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: '2026-01-01T12:00:00.100Z' }) started_at!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: null }) finished_at!: string | null;
}

export class ObjectListResponse {
  @ApiProperty({ type: [ObjectResponse] }) items!: ObjectResponse[];
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as cursor for the next page; null on the last page',
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI1NTBlODQwMC1lMjliLTQxZDQtYTcxNi00NDY2NTU0NDAwMDAiXQ',
  })
  next_cursor!: string | null;
}

export class ArtifactResponse {
  @ApiProperty({ example: 'validate', description: "Operation that wrote it, or 'source'" }) operation!: string;
  @ApiProperty({ example: 'object-123/validate_result.json' }) key!: string;
  @ApiProperty({ example: 's3://object-artifacts/object-123/validate_result.json' }) s3_url!: string;
  @ApiProperty({
    description: 'Presigned GET URL',
    example:
      'https://object-artifacts.s3.us-east-1.amazonaws.com/object-123/validate_result.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=…',
  })
  url!: string;
  @ApiProperty({ format: 'date-time', example: '2026-01-01T13:00:00.000Z' }) expires_at!: string;
}

export class ArtifactsResponse {
  @ApiProperty({ format: 'uuid', example: OBJECT_ID }) id!: string;
  @ApiProperty({ example: 'object-123' }) identifier!: string;
  @ApiProperty({ enum: OBJECT_STATES, example: 'completed' }) state!: ObjectState;
  @ApiProperty({ type: [ArtifactResponse] }) artifacts!: ArtifactResponse[];
}
