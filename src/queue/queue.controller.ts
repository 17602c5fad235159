import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, Caller } from '../access/access.decorator';
import type { Principal } from '../access/principal';
import { ApiErrors } from '../common/api-errors.decorator';
import { PauseQueueDto, QueuePauseResponse } from './dto/queue-pause.dto';
import { QueuePause } from './queue-pause';
import { toQueuePauseView } from './queue-pause.presenter';

/** The objects queue is shared by every team: only admin keys pause and resume it. */
@ApiTags('queue')
@Controller('api/v1/queue')
export class QueueController {
  constructor(private readonly queuePause: QueuePause) {}

  @Post('pause')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Pause the processing queue (every team)',
    description:
      'Nothing new starts until POST /api/v1/queue/resume; submissions are still accepted and wait. `drain` lets running objects finish; `stop` hands each ' +
      'running object back to the queue before its next operation (it stays `processing`, resumes where it stopped, and spends no attempt). ' +
      'Pausing a paused queue changes its mode and reason and keeps its `since`. Kept in PostgreSQL: survives restarts of every process and a Redis that lost its data.',
  })
  @ApiOkResponse({ type: QueuePauseResponse })
  @Access('admin')
  @ApiErrors(400, 503)
  async pause(@Body() body: PauseQueueDto, @Caller() caller: Principal): Promise<QueuePauseResponse> {
    return toQueuePauseView(await this.queuePause.pause(body.mode, body.reason, caller));
  }

  @Post('resume')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Resume the processing queue',
    description: 'Waiting objects start again, highest priority first. Resuming a running queue changes nothing.',
  })
  @ApiOkResponse({ type: QueuePauseResponse })
  @Access('admin')
  // 400: a body it does not need is still parsed, and a malformed one is refused.
  @ApiErrors(400, 503)
  async resume(@Caller() caller: Principal): Promise<QueuePauseResponse> {
    await this.queuePause.resume(caller);
    return toQueuePauseView(null);
  }
}
