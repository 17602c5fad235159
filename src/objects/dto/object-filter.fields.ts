import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { DOCUMENTED_OPERATIONS } from '../../processing/dto/operation-names';
import type { ObjectListFilter } from '../object-records';
import { listInstant } from '../list-cursor';

/** The error_code values a failed object carries. */
export const FAILURE_CODES = ['invalid_content', 'budget_exceeded', 'operation_failed'];

/** The filters the object list and the bulk retry share: by identifier, by operation, and of failed objects. */
export class ObjectFilterFields {
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

  @ApiPropertyOptional({
    description: 'Failed objects whose error_code is this (invalid_content, budget_exceeded, operation_failed)',
    enum: FAILURE_CODES,
    example: 'invalid_content',
  })
  @IsOptional()
  @IsIn(FAILURE_CODES)
  error_code?: string;

  @ApiPropertyOptional({
    description: 'Failed objects whose error_fingerprint is this (16 hex digits): the same cause of failure',
    example: '3f2a9c0d1b4e5f67',
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{16}$/, { message: 'error_fingerprint must be 16 lowercase hex digits' })
  error_fingerprint?: string;

  @ApiPropertyOptional({
    description: 'Failed at or after (ISO 8601); only failed objects',
    format: 'date-time',
    example: '2026-01-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_after?: string;

  @ApiPropertyOptional({
    description: 'Failed before (ISO 8601); only failed objects',
    format: 'date-time',
    example: '2026-02-01T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  failed_before?: string;
}

export type SharedFilter = Pick<
  ObjectListFilter,
  'identifierPrefix' | 'operation' | 'errorCode' | 'errorFingerprint' | 'failedAfter' | 'failedBefore'
>;

/** The repository's filter for these fields, its instants checked as the list's are. */
export function sharedFilterOf(fields: ObjectFilterFields): SharedFilter {
  return {
    identifierPrefix: fields.identifier_prefix,
    operation: fields.operation,
    errorCode: fields.error_code,
    errorFingerprint: fields.error_fingerprint,
    failedAfter: fields.failed_after ? listInstant('failed_after', fields.failed_after) : undefined,
    failedBefore: fields.failed_before ? listInstant('failed_before', fields.failed_before) : undefined,
  };
}
