import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { ObjectFilterFields } from './object-filter.fields';

/** Most failed objects one POST /api/v1/objects/retry re-queues; call again for the rest. */
export const MAX_BULK_RETRY = 1000;

export class BulkRetryDto extends ObjectFilterFields {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_BULK_RETRY,
    example: 100,
    description: 'At most this many (newest first); 100 when left out',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BULK_RETRY)
  limit?: number;

  @ApiPropertyOptional({
    type: 'boolean',
    example: false,
    description: 'Rerun every operation of each, not only those that did not complete',
  })
  @IsOptional()
  @IsBoolean()
  from_scratch?: boolean;
}

export class BulkRetryResponse {
  @ApiProperty({ example: 2, description: 'How many failed objects were queued again' }) retried!: number;
  @ApiProperty({ type: [String], example: ['550e8400-e29b-41d4-a716-446655440000', '7c9e6679-7425-40de-944b-e07fc1f90ae7'] })
  ids!: string[];
  @ApiProperty({ example: false, description: 'More failed objects match: call again for the next ones' }) more!: boolean;
}
