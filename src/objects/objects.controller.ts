import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiExtraModels, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiObjectIdParam, ApiObjectReferenceParam } from '../common/api-params.decorator';
import { ApiErrors } from '../common/api-errors.decorator';
import { ObjectIdPipe } from '../common/object-id.pipe';
import { ArtifactsResponse, ObjectListResponse, ObjectResponse, OperationStatusResponse } from './dto/object.responses';
import { ListObjectsQuery, RetryQuery } from './dto/list-objects.query';
import { listInstant } from './list-cursor';
import { ObjectsService } from './objects.service';
import { sharedFilterOf } from './dto/object-filter.fields';
import { BulkRetryDto, BulkRetryResponse } from './dto/bulk-retry.dto';
import { ValidationError } from '../common/domain-errors';
import { Access, Caller } from '../access/access.decorator';
import type { Principal } from '../access/principal';

@ApiTags('objects')
@ApiExtraModels(OperationStatusResponse)
@Controller('api/v1/objects')
export class ObjectsController {
  constructor(private readonly objects: ObjectsService) {}

  @Get()
  @ApiOperation({ summary: 'List objects, newest first, with filters and cursor pagination' })
  @ApiOkResponse({ type: ObjectListResponse })
  @Access('read')
  @ApiErrors(400, 503)
  list(@Query() query: ListObjectsQuery, @Caller() caller: Principal): Promise<ObjectListResponse> {
    return this.objects.list(
      {
        ...sharedFilterOf(query),
        state: query.state,
        createdAfter: query.created_after ? listInstant('created_after', query.created_after) : undefined,
        createdBefore: query.created_before ? listInstant('created_before', query.created_before) : undefined,
        cursor: query.cursor,
        limit: query.limit ?? 20,
      },
      caller,
    );
  }

  @Get(':object')
  @ApiOperation({ summary: 'One object by its id or its identifier' })
  @ApiObjectReferenceParam()
  @ApiOkResponse({ type: ObjectResponse })
  @Access('read')
  @ApiErrors(400, 404, 503)
  get(@Param('object') reference: string, @Caller() caller: Principal): Promise<ObjectResponse> {
    return this.objects.getByReference(reference, caller);
  }

  @Get(':object_id/artifacts')
  @ApiOperation({ summary: 'Artifacts of an object with presigned download URLs' })
  @ApiOkResponse({ type: ArtifactsResponse })
  @ApiObjectIdParam()
  @Access('read')
  @ApiErrors(400, 404, 503)
  artifacts(@Param('object_id', ObjectIdPipe) id: string, @Caller() caller: Principal): Promise<ArtifactsResponse> {
    return this.objects.artifactsOf(id, caller);
  }

  @Post(':object_id/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Cancel: at once when pending or queued, cooperatively when processing' })
  @ApiOkResponse({ type: ObjectResponse })
  @ApiObjectIdParam()
  @Access('write')
  @ApiErrors(400, 404, 409, 503)
  cancel(@Param('object_id', ObjectIdPipe) id: string, @Caller() caller: Principal): Promise<ObjectResponse> {
    return this.objects.cancel(id, caller);
  }

  @Post('retry')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Retry failed objects in bulk: every failed object matching the filter, up to limit (newest first)',
    description:
      'Dead-letter triage: filter by error_code, error_fingerprint, failed-at range, identifier prefix or operation; `more` says whether more match.',
  })
  @ApiOkResponse({ type: BulkRetryResponse })
  @Access('write')
  @ApiErrors(400, 503)
  retryMatching(@Body() body: BulkRetryDto, @Caller() caller: Principal): Promise<BulkRetryResponse> {
    return this.objects.retryMatching(sharedFilterOf(body), body.limit ?? 100, body.from_scratch === true, caller);
  }

  @Post(':object_id/retry')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary:
      'Re-queue a failed object; completed operations are skipped unless from_scratch=true, or from=<operation> reruns it and every later one',
  })
  @ApiAcceptedResponse({ type: ObjectResponse })
  @ApiObjectIdParam()
  @Access('write')
  @ApiErrors(400, 404, 409, 429, 503)
  retry(@Param('object_id', ObjectIdPipe) id: string, @Query() query: RetryQuery, @Caller() caller: Principal): Promise<ObjectResponse> {
    if (query.from !== undefined && query.from_scratch === 'true') {
      throw new ValidationError('Send from or from_scratch=true, not both', [{ field: 'from', message: 'not with from_scratch' }]);
    }
    return this.objects.retry(id, { fromScratch: query.from_scratch === 'true', from: query.from }, caller);
  }

  @Delete(':object')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete an object, its queued job and all its artifacts (cancel a processing object first)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiObjectReferenceParam()
  @Access('write')
  @ApiErrors(400, 404, 409, 503)
  delete(@Param('object') reference: string, @Caller() caller: Principal): Promise<void> {
    return this.objects.deleteByReference(reference, caller);
  }
}
