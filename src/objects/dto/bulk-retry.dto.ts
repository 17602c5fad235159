import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { DOCUMENTED_OPERATIONS } from '../../processing/dto/operation-names';
import { FAILURE_CODES } from './list-objects.query';

/** Most failed objects one POST /api/v1/objects/retry re-queues; call again for the rest. */
export const MAX_BULK_RETRY = 1000;

export class BulkRetryDto {
  @ApiPropertyOptional({ enum: FAILURE_CODES, example: 'operation_failed' })
  @IsOptional()
  @IsIn(FAILURE_CODES)
  error_code?: string;

  @ApiPropertyOptional({ description: 'The error_fingerprint of the failures to retry', example: '3f2a9c0d1b4e5f67' })
  @IsOptional()
  @Matches(/^[0-9a-f]{16}$/, { message: 'error_fingerprint must be 16 lowercase hex digits' })
  error_fingerprint?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-01-01T00:00:00Z', description: 'Failed at or after' })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_after?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-02-01T00:00:00Z', description: 'Failed before' })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_before?: string;

  @ApiPropertyOptional({ description: 'Only identifiers starting with this', example: 'invoice-' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9._-]+$/, { message: "identifier_prefix may only contain A-Z, a-z, 0-9, '.', '_' and '-'" })
  identifier_prefix?: string;

  @ApiPropertyOptional({ description: 'Only objects whose plan includes this operation', enum: DOCUMENTED_OPERATIONS, example: 'analyze' })
  @IsOptional()
  @IsIn(DOCUMENTED_OPERATIONS)
  operation?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_BULK_RETRY, example: 100, description: 'At most this many (newest first); 100 when left out' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BULK_RETRY)
  limit?: number;

  @ApiPropertyOptional({ type: 'boolean', example: false, description: 'Rerun every operation of each, not only those that did not complete' })
  @IsOptional()
  @IsBoolean()
  from_scratch?: boolean;
}

export class BulkRetryResponse {
  @ApiProperty({ example: 2, description: 'How many failed objects were queued again' }) retried!: number;
  @ApiProperty({ type: [String], example: ['550e8400-e29b-41d4-a716-446655440000', '7c9e6679-7425-40de-944b-e07fc1f90ae7'] }) ids!: string[];
  @ApiProperty({ example: false, description: 'More failed objects match: call again for the next ones' }) more!: boolean;
}
