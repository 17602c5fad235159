import { Controller, Get, Headers, HttpCode, HttpStatus, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiObjectIdParam } from '../common/api-params.decorator';
import { ApiErrors, ApiStreamUnavailableError } from '../common/api-errors.decorator';
import { UnsupportedMediaTypeError, ValidationError } from '../common/domain-errors';
import { ObjectIdPipe } from '../common/object-id.pipe';
import { validateSubmission } from './dto/validate-submission';
import { OperationStatusResponse, ProgressResponse, ProgressWithWaitingResponse } from '../objects/dto/object.responses';
import { AppConfig } from '../config/app-config';
import { StatusResponse, SubmissionResponseDto } from './dto/processing.responses';
import { SubmitObjectDto } from './dto/submit-object.dto';
import { BatchResponseDto, BatchSubmitDto, MAX_BATCH_ITEMS } from './dto/batch.dto';
import { SubmitUploadFormDto } from './dto/submit-upload-form.dto';
import { MultipartRefusal, readMultipartSubmission } from './multipart-submission';
import { ProgressService } from './progress.service';
import { StatusService } from './status.service';
import { SubmissionService } from './submission.service';
import { Access, Caller } from '../access/access.decorator';
import { StreamTokenResponse } from '../access/dto/api-keys.dto';
import { clientKeyOf, type Principal } from '../access/principal';

// No example: Swagger UI would pre-fill it, and every "Try it out" submission would carry the same key.
const IDEMPOTENCY_KEY_HEADER = {
  name: 'idempotency-key',
  required: false,
  description:
    'Idempotency-Key (1-200 characters, e.g. a fresh UUID per submission): repeat a submission safely. The same key with the same body ' +
    '(JSON: the same values, in any key order; multipart: the same fields and file bytes) returns the first response; with any other body it is ' +
    '409 idempotency_key_reused. A key is kept for IDEMPOTENCY_KEY_TTL_SECONDS (24 h by default) after its submission was accepted, then free; ' +
    'a refused or failed submission, or deleting its object, frees it at once.',
};

/**
 * The stream's 200. Convention: the media type is `text/event-stream` with `schema: {type: string}`
 * (the body is the event stream, not one JSON document), and `x-event-data-schema` names the schema
 * of every event's `data:` line, as OpenAPI 3.2's `itemSchema` would.
 */
const PROGRESS_EVENT_STREAM = {
  description:
    'A Server-Sent Events stream. Each event is `event: progress`, `id:` an increasing number and `data:` one ProgressResponse as JSON (see x-event-data-schema); comment lines are heartbeats. ' +
    'The server ends the stream after a settled state (completed, failed, cancelled): that is the end. When it ends without one (a restart, a shutdown; it sends `retry:` first) reconnect with Last-Event-ID.',
  content: {
    'text/event-stream': {
      schema: { type: 'string' as const, description: 'event: progress\nid: <n>\ndata: <ProgressResponse as JSON>\n\n, repeated' },
      'x-event-data-schema': { $ref: getSchemaPath(ProgressResponse) },
      example:
        'event: progress\nid: 3\ndata: {"id":"550e8400-e29b-41d4-a716-446655440000","identifier":"object-123","state":"processing","current_operation":"transform","progress":{"current":1,"total":4,"message":"Executing transform"},"operations_status":{},"s3_artifacts":{},"error_message":null}\n\n',
    },
  },
};

@ApiTags('processing')
@ApiExtraModels(OperationStatusResponse, ProgressResponse, SubmitObjectDto, SubmitUploadFormDto, BatchSubmitDto)
@Controller('api/v1')
export class ProcessingController {
  constructor(
    private readonly submissions: SubmissionService,
    private readonly progressService: ProgressService,
    private readonly statusService: StatusService,
    private readonly config: AppConfig,
  ) {}

  @Post('process')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Create an object and queue it for processing',
    description:
      'JSON (application/json): inline `payload` content, or none (the operations run on {identifier, metadata}). ' +
      'Multipart (multipart/form-data): the fields identifier, operations and optionally metadata, options, priority, then one `file` part, ' +
      "streamed to S3 as the object's source; over the upload limit it is 413 and nothing is kept, a type the service cannot process is 415.",
    requestBody: {
      required: true,
      content: {
        'application/json': { schema: { $ref: getSchemaPath(SubmitObjectDto) } },
        'multipart/form-data': { schema: { $ref: getSchemaPath(SubmitUploadFormDto) } },
      },
    },
  })
  @ApiConsumes('application/json', 'multipart/form-data')
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiAcceptedResponse({ type: SubmissionResponseDto })
  @Access('write')
  @ApiErrors(400, 409, 413, 415, 429, 503)
  async submit(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Caller() caller: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<SubmissionResponseDto> {
    if (!request.isMultipart()) {
      // The JSON body, validated exactly as @Body() would be (the route takes multipart too, so it reads the body itself).
      const body = await validateSubmission(request.body);
      checkIdempotencyKey(idempotencyKey);
      return this.submissions.submit(body, idempotencyKey, caller.team);
    }
    try {
      checkIdempotencyKey(idempotencyKey);
    } catch (error) {
      // Refused before reading the form: its body stays unread, so the connection closes after the answer.
      reply.header('connection', 'close');
      throw error;
    }
    let submission;
    try {
      submission = await readMultipartSubmission(request, this.config.limits);
    } catch (error) {
      throw refusal(reply, error);
    }
    try {
      return await this.submissions.submitUpload(submission.request, idempotencyKey, caller.team, submission.upload, () =>
        submission.rest(),
      );
    } catch (error) {
      // The client may still be sending: read it to the end (bounded) so the answer does not race the upload.
      if (!(await submission.discard())) {
        reply.header('connection', 'close');
      }
      throw error;
    }
  }

  /**
   * The multipart form of POST /api/v1/process as an operation of its own: generators that take one
   * media type per operation (@hey-api/openapi-ts picks JSON) would otherwise have no upload call.
   */
  @Post('process/upload')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Upload a file as a new object and queue it for processing',
    description:
      'The multipart/form-data form of POST /api/v1/process, alone: the fields, then one `file` part. Anything but multipart/form-data is 415.',
    requestBody: { required: true, content: { 'multipart/form-data': { schema: { $ref: getSchemaPath(SubmitUploadFormDto) } } } },
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiAcceptedResponse({ type: SubmissionResponseDto })
  @Access('write')
  @ApiErrors(400, 409, 413, 415, 429, 503)
  async upload(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Caller() caller: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<SubmissionResponseDto> {
    if (!request.isMultipart()) {
      throw new UnsupportedMediaTypeError('POST /api/v1/process/upload takes multipart/form-data; send JSON to POST /api/v1/process');
    }
    return this.submit(request, reply, caller, idempotencyKey);
  }

  @Post('process/batch')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Create up to 1,000 objects in one request',
    description:
      'Each item is validated and created as POST /api/v1/process would; a refused item gets its own error in `items` and nothing is written ' +
      'for it, the others are created and their jobs added in one bulk. The whole body counts against PAYLOAD_LIMIT_BYTES. An Idempotency-Key ' +
      'replays the whole answer.',
    requestBody: { required: true, content: { 'application/json': { schema: { $ref: getSchemaPath(BatchSubmitDto) } } } },
  })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiOkResponse({ type: BatchResponseDto })
  @Access('write')
  @ApiErrors(400, 409, 413, 415, 429, 503)
  async batch(
    @Req() request: FastifyRequest,
    @Caller() caller: Principal,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<BatchResponseDto> {
    if (request.isMultipart()) {
      throw new UnsupportedMediaTypeError('POST /api/v1/process/batch takes JSON: {"objects": [...]}');
    }
    const items = batchItems(request.body);
    checkIdempotencyKey(idempotencyKey);
    return this.submissions.submitBatch(items, idempotencyKey, caller.team);
  }

  @Get('progress/:object_id')
  @ApiOperation({
    summary: 'Progress of an object',
    description:
      'For a queued object, `waiting` says where it stands in the queue, what holds it and roughly when it starts; in any other state it is absent, and the view is the one the event stream sends.',
  })
  @ApiOkResponse({ type: ProgressWithWaitingResponse })
  @ApiObjectIdParam()
  @Access('read')
  @ApiErrors(400, 404, 503)
  progress(@Param('object_id', ObjectIdPipe) id: string, @Caller() caller: Principal): Promise<ProgressWithWaitingResponse> {
    return this.progressService.progressOf(id, caller);
  }

  @Get('progress/:object_id/stream')
  @ApiOperation({
    summary: 'Live progress over Server-Sent Events',
    description:
      'Sends the current snapshot, then an event for every change, and closes after a terminal state. Each event is `event: progress`, an increasing `id:`, and `data:` the progress JSON. Reconnect with Last-Event-ID to skip what you have seen. Comment lines are heartbeats.',
  })
  @ApiHeader({
    name: 'last-event-id',
    required: false,
    description: 'Last-Event-ID: the id of the last event received; the stream resumes after it',
    example: '7',
  })
  @ApiOkResponse(PROGRESS_EVENT_STREAM)
  @ApiNoContentResponse({
    description: 'Nothing left to send: the object is settled and Last-Event-ID is at or past its last event. Do not reconnect.',
  })
  @ApiObjectIdParam()
  @ApiQuery({
    name: 'access_token',
    required: false,
    description:
      'A stream token from POST /api/v1/progress/{object_id}/stream-token, for clients that cannot send Authorization (EventSource)',
  })
  @Access('read', { streamToken: true })
  @ApiErrors(400, 404, 429)
  @ApiStreamUnavailableError()
  async stream(
    @Param('object_id', ObjectIdPipe) id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Caller() caller: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const resumeAfter = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    // Written to the response by ProgressStream, not by @Sse(): one shared frame per event for all its clients.
    await this.progressService.stream(id, caller, resumeAfter, clientKeyOf(request), reply);
  }

  @Post('progress/:object_id/stream-token')
  @ApiOperation({
    summary: "A short-lived token that opens this object's progress stream",
    description:
      'For browsers: EventSource cannot send an Authorization header, and an API key must not travel in a URL. The token opens ' +
      'GET /api/v1/progress/{object_id}/stream?access_token=… (and its reconnections) until it expires, and nothing else.',
  })
  @ApiCreatedResponse({ type: StreamTokenResponse })
  @ApiObjectIdParam()
  @Access('read')
  @ApiErrors(400, 404, 503)
  streamToken(@Param('object_id', ObjectIdPipe) id: string, @Caller() caller: Principal): Promise<StreamTokenResponse> {
    return this.progressService.streamToken(id, caller);
  }

  @Get('status')
  @ApiOperation({ summary: 'Queue and worker status' })
  @ApiOkResponse({ type: StatusResponse })
  @Access('read')
  @ApiErrors(503)
  status(@Caller() caller: Principal): Promise<StatusResponse> {
    return this.statusService.statusFor(caller);
  }
}

/** The items of a batch body: `{"objects": [...]}` with 1 to MAX_BATCH_ITEMS entries and nothing else. */
function batchItems(body: unknown): unknown[] {
  const objects = (body as { objects?: unknown } | null | undefined)?.objects;
  if (
    body === null ||
    typeof body !== 'object' ||
    Array.isArray(body) ||
    Object.keys(body).some((key) => key !== 'objects') ||
    !Array.isArray(objects)
  ) {
    throw new ValidationError('The body must be {"objects": [...]}, the submissions', [
      { field: 'objects', message: 'must be an array, and the only field' },
    ]);
  }
  if (objects.length === 0 || objects.length > MAX_BATCH_ITEMS) {
    throw new ValidationError(`objects must hold 1 to ${MAX_BATCH_ITEMS} submissions`, [
      { field: 'objects', message: `holds ${objects.length}`, limit: MAX_BATCH_ITEMS },
    ]);
  }
  return objects;
}

function checkIdempotencyKey(idempotencyKey: string | undefined): void {
  if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
    throw new ValidationError('Idempotency-Key must be 1-200 characters', [{ field: 'Idempotency-Key', message: 'invalid length' }]);
  }
}

/** The error to answer with for a refused multipart request; the connection closes if the request could not be read to its end. */
function refusal(reply: FastifyReply, error: unknown): unknown {
  if (!(error instanceof MultipartRefusal)) {
    return error;
  }
  if (!error.drained) {
    reply.header('connection', 'close');
  }
  return error.error;
}
