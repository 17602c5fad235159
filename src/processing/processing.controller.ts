import { Body, Controller, Get, Headers, HttpCode, HttpStatus, MessageEvent, Param, Post, Sse } from '@nestjs/common';
import { ApiAcceptedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Observable } from 'rxjs';
import { ApiErrors } from '../common/api-errors.decorator';
import { ValidationError } from '../common/domain-errors';
import { ObjectIdPipe } from '../common/object-id.pipe';
import { ProgressResponse } from '../objects/dto/object.responses';
import { toProgressView } from '../objects/object.presenter';
import { ObjectsRepository } from '../objects/objects.repository';
import { ProcessingQueue } from '../queue/processing-queue';
import { AppConfig } from '../config/app-config';
import { StatusResponse, SubmissionResponseDto } from './dto/processing.responses';
import { SubmitObjectDto } from './dto/submit-object.dto';
import { ProgressStream } from './progress-stream';
import { SubmissionService } from './submission.service';

@ApiTags('processing')
@Controller('api/v1')
export class ProcessingController {
  constructor(
    private readonly submissions: SubmissionService,
    private readonly objects: ObjectsRepository,
    private readonly progressStream: ProgressStream,
    private readonly queue: ProcessingQueue,
    private readonly config: AppConfig,
  ) {}

  @Post('process')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Create an object and queue it for processing' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Repeat a submission safely: the same key and body return the first response' })
  @ApiAcceptedResponse({ type: SubmissionResponseDto })
  @ApiErrors(400, 409, 413, 415, 503)
  submit(@Body() body: SubmitObjectDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<SubmissionResponseDto> {
    if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
      throw new ValidationError('Idempotency-Key must be 1-200 characters', [{ field: 'Idempotency-Key', message: 'invalid length' }]);
    }
    return this.submissions.submit(body, idempotencyKey);
  }

  @Get('progress/:object_id')
  @ApiOperation({ summary: 'Progress of an object' })
  @ApiOkResponse({ type: ProgressResponse })
  @ApiErrors(400, 404, 503)
  async progress(@Param('object_id', ObjectIdPipe) id: string): Promise<ProgressResponse> {
    return toProgressView(await this.objects.getById(id));
  }

  @Sse('progress/:object_id/stream')
  @ApiOperation({
    summary: 'Live progress over Server-Sent Events',
    description:
      'Sends the current snapshot, then an event for every change, and closes after a terminal state. Each event is `event: progress`, an increasing `id:`, and `data:` the progress JSON. Reconnect with Last-Event-ID to skip what you have seen. Comment lines are heartbeats.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiOkResponse({ description: 'An event stream of ProgressResponse objects', type: ProgressResponse })
  @ApiErrors(400, 404, 503)
  stream(@Param('object_id', ObjectIdPipe) id: string, @Headers('last-event-id') lastEventId?: string): Promise<Observable<MessageEvent>> {
    const resumeAfter = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    return this.progressStream.open(id, resumeAfter);
  }

  @Get('status')
  @ApiOperation({ summary: 'Queue and worker status' })
  @ApiOkResponse({ type: StatusResponse })
  @ApiErrors(503)
  async status(): Promise<StatusResponse> {
    const [counts, workers, byState] = await Promise.all([this.queue.counts(), this.queue.workerCount(), this.objects.countByState()]);
    return {
      queue_size: counts.waiting + counts.delayed,
      active_workers: counts.active,
      max_workers: this.config.maxParallelWorkers,
      worker_processes: workers,
      dead_letters: counts.failed,
      objects_by_state: byState,
    };
  }
}
