import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { OBJECT_STATES, type ObjectState } from '../object-state';

export class OperationStatusResponse {
  @ApiProperty() completed!: boolean;
  @ApiProperty({ type: String, nullable: true, example: 's3://object-artifacts/object-123/validate_result.json' }) s3_url!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) started_at!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) finished_at!: string | null;
  @ApiProperty({ type: Number, nullable: true }) duration_ms!: number | null;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
  @ApiPropertyOptional({ type: [String], description: 'Further files the operation wrote' }) files?: string[];
}

export class ProgressCounts {
  @ApiProperty({ description: 'Operations finished', example: 2 }) current!: number;
  @ApiProperty({ description: 'Length of the plan', example: 4 }) total!: number;
  @ApiProperty({ example: 'Executing transform' }) message!: string;
}

export class ObjectSourceResponse {
  @ApiProperty({ example: 'application/json' }) content_type!: string;
  @ApiProperty() size!: number;
  @ApiProperty() sha256!: string;
  @ApiProperty({ example: 's3://object-artifacts/object-123/source/payload.json' }) s3_url!: string;
}

export class ProgressResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'object-123' }) identifier!: string;
  @ApiProperty({ enum: OBJECT_STATES }) state!: ObjectState;
  @ApiProperty({ type: String, nullable: true, example: 'transform' }) current_operation!: string | null;
  @ApiProperty({ type: ProgressCounts }) progress!: ProgressCounts;
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/OperationStatusResponse' } })
  operations_status!: Record<string, OperationStatusResponse>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { validate: 's3://object-artifacts/object-123/validate_result.json' } })
  s3_artifacts!: Record<string, string>;
  @ApiProperty({ type: String, nullable: true }) error_message!: string | null;
}

export class ObjectResponse extends ProgressResponse {
  @ApiProperty({ type: [String], example: ['validate', 'transform', 'analyze'] }) operations!: string[];
  @ApiProperty({ type: [String], example: ['validate', 'transform', 'enrich', 'analyze'] }) plan!: string[];
  @ApiProperty({ type: String, nullable: true }) task_id!: string | null;
  @ApiProperty({ type: ObjectSourceResponse, nullable: true }) source!: ObjectSourceResponse | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) options!: Record<string, unknown>;
  @ApiProperty({ example: 5 }) priority!: number;
  @ApiProperty({ description: 'Times the object was queued', example: 1 }) attempts!: number;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) started_at!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) finished_at!: string | null;
}

export class ObjectListResponse {
  @ApiProperty({ type: [ObjectResponse] }) items!: ObjectResponse[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page; null on the last page' }) next_cursor!: string | null;
}

export class ArtifactResponse {
  @ApiProperty({ example: 'validate', description: "Operation that wrote it, or 'source'" }) operation!: string;
  @ApiProperty({ example: 'object-123/validate_result.json' }) key!: string;
  @ApiProperty() s3_url!: string;
  @ApiProperty({ description: 'Presigned GET URL' }) url!: string;
  @ApiProperty({ format: 'date-time' }) expires_at!: string;
}

export class ArtifactsResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() identifier!: string;
  @ApiProperty({ enum: OBJECT_STATES }) state!: ObjectState;
  @ApiProperty({ type: [ArtifactResponse] }) artifacts!: ArtifactResponse[];
}
