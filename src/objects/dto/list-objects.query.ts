import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { DOCUMENTED_OPERATIONS } from '../../processing/dto/operation-names';
import { OBJECT_STATES, type ObjectState } from '../object-state';

/** The error_code values a failed object carries. */
export const FAILURE_CODES = ['invalid_content', 'budget_exceeded', 'operation_failed'];

export class ListObjectsQuery {
  @ApiPropertyOptional({ enum: OBJECT_STATES, example: 'completed' })
  @IsOptional()
  @IsIn(OBJECT_STATES)
  state?: ObjectState;

  @ApiPropertyOptional({ description: 'Only identifiers starting with this', example: 'object-' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[A-Za-z0-9._-]+$/, { message: "identifier_prefix may only contain A-Z, a-z, 0-9, '.', '_' and '-'" })
  identifier_prefix?: string;

  @ApiPropertyOptional({ description: 'Only objects whose plan includes this operation', enum: DOCUMENTED_OPERATIONS, example: 'analyze' })
  @IsOptional()
  @IsString()
  operation?: string;

  @ApiPropertyOptional({ description: 'Created at or after (ISO 8601)', format: 'date-time', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_after?: string;

  @ApiPropertyOptional({ description: 'Created before (ISO 8601)', format: 'date-time', example: '2026-02-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_before?: string;

  @ApiPropertyOptional({
    description: 'Failed objects whose error_code is this (invalid_content, budget_exceeded, operation_failed)',
    enum: FAILURE_CODES,
    example: 'invalid_content',
  })
  @IsOptional()
  @IsIn(FAILURE_CODES)
  error_code?: string;

  @ApiPropertyOptional({ description: 'Failed objects whose error_fingerprint is this (16 hex digits): the same cause of failure', example: '3f2a9c0d1b4e5f67' })
  @IsOptional()
  @Matches(/^[0-9a-f]{16}$/, { message: 'error_fingerprint must be 16 lowercase hex digits' })
  error_fingerprint?: string;

  @ApiPropertyOptional({ description: 'Failed at or after (ISO 8601); only failed objects', format: 'date-time', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_after?: string;

  @ApiPropertyOptional({ description: 'Failed before (ISO 8601); only failed objects', format: 'date-time', example: '2026-02-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_before?: string;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page', example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI1NTBlODQwMC1lMjliLTQxZDQtYTcxNi00NDY2NTU0NDAwMDAiXQ' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 20, example: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class RetryQuery {
  // A boolean in the contract (a query string carries it as `true` or `false`); the TypeScript type stays a string so no implicit conversion turns 'false' into true.
  @ApiPropertyOptional({ description: 'Rerun every operation, not only those that did not complete', type: 'boolean', default: false, example: true })
  @IsOptional()
  @IsIn(['true', 'false'])
  from_scratch?: 'true' | 'false';

  @ApiPropertyOptional({
    description: 'Rerun this operation and every later one in the plan; earlier results are kept, later ones replaced. Not with from_scratch.',
    enum: DOCUMENTED_OPERATIONS,
    example: 'transform',
  })
  @IsOptional()
  @IsIn(DOCUMENTED_OPERATIONS)
  from?: string;
}
