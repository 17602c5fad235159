import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { DOCUMENTED_OPERATIONS } from '../../processing/dto/operation-names';
import { ObjectFilterFields } from './object-filter.fields';
import { OBJECT_STATES, type ObjectState } from '../object-state';

export class ListObjectsQuery extends ObjectFilterFields {
  @ApiPropertyOptional({ enum: OBJECT_STATES, example: 'completed' })
  @IsOptional()
  @IsIn(OBJECT_STATES)
  state?: ObjectState;

  @ApiPropertyOptional({ description: 'Created at or after (ISO 8601)', format: 'date-time', example: '2026-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_after?: string;

  @ApiPropertyOptional({ description: 'Created before (ISO 8601)', format: 'date-time', example: '2026-02-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_before?: string;

  @ApiPropertyOptional({
    description: 'next_cursor of the previous page',
    example: 'WyIyMDI2LTAxLTAxVDEyOjAwOjAwLjAwMFoiLCI1NTBlODQwMC1lMjliLTQxZDQtYTcxNi00NDY2NTU0NDAwMDAiXQ',
  })
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
  @ApiPropertyOptional({
    description: 'Rerun every operation, not only those that did not complete',
    type: 'boolean',
    default: false,
    example: true,
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  from_scratch?: 'true' | 'false';

  @ApiPropertyOptional({
    description:
      'Rerun this operation and every later one in the plan; earlier results are kept, later ones replaced. Not with from_scratch.',
    enum: DOCUMENTED_OPERATIONS,
    example: 'transform',
  })
  @IsOptional()
  @IsIn(DOCUMENTED_OPERATIONS)
  from?: string;
}
