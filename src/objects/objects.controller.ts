import { Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiExtraModels, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { ValidationError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { ObjectIdPipe } from '../common/object-id.pipe';
import { ArtifactsResponse, ObjectListResponse, ObjectResponse, OperationStatusResponse } from './dto/object.responses';
import { ListObjectsQuery, RetryQuery } from './dto/list-objects.query';
import { IDENTIFIER_RULE, isValidIdentifier } from './identifier';
import { listInstant } from './list-cursor';
import { ObjectsService } from './objects.service';

@ApiTags('objects')
@ApiExtraModels(OperationStatusResponse)
@Controller('api/v1/objects')
export class ObjectsController {
  constructor(private readonly objects: ObjectsService) {}

  @Get()
  @ApiOperation({ summary: 'List objects, newest first, with filters and cursor pagination' })
  @ApiOkResponse({ type: ObjectListResponse })
  @ApiErrors(400, 503)
  list(@Query() query: ListObjectsQuery): Promise<ObjectListResponse> {
    return this.objects.list({
      state: query.state,
      identifierPrefix: query.identifier_prefix,
      operation: query.operation,
      createdAfter: query.created_after ? listInstant('created_after', query.created_after) : undefined,
      createdBefore: query.created_before ? listInstant('created_before', query.created_before) : undefined,
      cursor: query.cursor,
      limit: query.limit ?? 20,
    });
  }

  @Get(':identifier')
  @ApiOperation({ summary: 'One object by its identifier' })
  @ApiParam({ name: 'identifier', example: 'object-123', description: 'The identifier the object was submitted with' })
  @ApiOkResponse({ type: ObjectResponse })
  @ApiErrors(400, 404, 503)
  getByIdentifier(@Param('identifier') identifier: string): Promise<ObjectResponse> {
    if (!isValidIdentifier(identifier)) {
      throw new ValidationError(`identifier must be ${IDENTIFIER_RULE}`, [{ field: 'identifier', message: 'invalid identifier' }], ErrorCode.InvalidIdentifier);
    }
    return this.objects.getByIdentifier(identifier);
  }

  @Get(':object_id/artifacts')
  @ApiOperation({ summary: 'Artifacts of an object with presigned download URLs' })
  @ApiOkResponse({ type: ArtifactsResponse })
  @ApiParam({ name: 'object_id', format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000', description: 'The id returned by POST /api/v1/process' })
  @ApiErrors(400, 404, 503)
  artifacts(@Param('object_id', ObjectIdPipe) id: string): Promise<ArtifactsResponse> {
    return this.objects.artifactsOf(id);
  }

  @Post(':object_id/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Cancel: at once when pending or queued, cooperatively when processing' })
  @ApiOkResponse({ type: ObjectResponse })
  @ApiParam({ name: 'object_id', format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000', description: 'The id returned by POST /api/v1/process' })
  @ApiErrors(400, 404, 409, 503)
  cancel(@Param('object_id', ObjectIdPipe) id: string): Promise<ObjectResponse> {
    return this.objects.cancel(id);
  }

  @Post(':object_id/retry')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Re-queue a failed object; completed operations are skipped unless from_scratch=true' })
  @ApiAcceptedResponse({ type: ObjectResponse })
  @ApiParam({ name: 'object_id', format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000', description: 'The id returned by POST /api/v1/process' })
  @ApiErrors(400, 404, 409, 503)
  retry(@Param('object_id', ObjectIdPipe) id: string, @Query() query: RetryQuery): Promise<ObjectResponse> {
    return this.objects.retry(id, query.from_scratch === 'true');
  }

  @Delete(':object_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete an object, its queued job and all its artifacts (cancel a processing object first)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiParam({ name: 'object_id', format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000', description: 'The id returned by POST /api/v1/process' })
  @ApiErrors(400, 404, 409, 503)
  async delete(@Param('object_id', ObjectIdPipe) id: string): Promise<void> {
    await this.objects.delete(id);
  }
}
