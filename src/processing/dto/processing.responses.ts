import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { OBJECT_STATES } from '../../objects/object-state';
import { QueuePauseResponse } from '../../queue/dto/queue-pause.dto';

export class SubmissionResponseDto {
  @ApiProperty({ format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000' }) id!: string;
  @ApiProperty({ example: 'object-123' }) identifier!: string;
  @ApiProperty({ enum: ['queued'], example: 'queued' }) state!: 'queued';
  @ApiProperty({ example: '550e8400-e29b-41d4-a716-446655440000.1', description: 'Queue job id' }) task_id!: string;
  @ApiProperty({ example: 'Object queued for processing' }) message!: string;
  @ApiPropertyOptional({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0bA4f5Q3m1c=',
    description:
      'With a webhook in the submission: the secret that signs its deliveries (Standard Webhooks), in this answer only (and an Idempotency-Key replay of it)',
  })
  webhook_secret?: string;
}

export class RetentionStatusResponse {
  @ApiProperty({ example: true, description: 'False unless RETENTION_MAX_AGE_SECONDS is set' }) enabled!: boolean;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 2592000,
    description: 'RETENTION_MAX_AGE_SECONDS: settled objects that finished longer ago are removed',
  })
  max_age_seconds!: number | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    example: '2026-01-01T13:00:00.000Z',
    description: 'When the next run is due; null when none is scheduled',
  })
  next_run_at!: string | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 42,
    description:
      'How many objects (of your team; admin keys: of every team) the next run would remove, counted up to 10000; null when none is scheduled',
  })
  next_run_count!: number | null;
}

export class StatusResponse {
  @ApiProperty({ description: 'Jobs waiting to run (including delayed retries)', example: 5 }) queue_size!: number;
  @ApiProperty({ description: 'Objects being processed now, across all workers', example: 3 }) active_workers!: number;
  @ApiProperty({ description: 'MAX_PARALLEL_WORKERS: the limit across all worker processes', example: 3 }) max_workers!: number;
  @ApiProperty({ description: 'Worker processes connected to the queue', example: 2 }) worker_processes!: number;
  @ApiProperty({ description: 'Jobs that exhausted their attempts (dead letters); retry their objects', example: 0 }) dead_letters!: number;
  @ApiProperty({
    type: 'object',
    properties: Object.fromEntries(OBJECT_STATES.map((state) => [state, { type: 'integer' }])),
    example: { pending: 0, queued: 5, processing: 3, completed: 120, failed: 2, cancelled: 1 },
  })
  objects_by_state!: Record<string, number>;
  @ApiProperty({
    type: QueuePauseResponse,
    description: 'Whether the queue is paused (POST /api/v1/queue/pause), how, why, since when and by whom',
  })
  pause!: QueuePauseResponse;
  @ApiProperty({ type: RetentionStatusResponse }) retention!: RetentionStatusResponse;
}
