import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { StreamTokenResponse } from '../access/dto/api-keys.dto';
import { type Principal, visibleTeam } from '../access/principal';
import { StreamTokens } from '../access/stream-tokens';
import { ObjectNotFoundError } from '../common/domain-errors';
import type { ProgressWithWaitingResponse } from '../objects/dto/object.responses';
import { toProgressView } from '../objects/object.presenter';
import { ObjectsRepository } from '../objects/objects.repository';
import { ObjectsService } from '../objects/objects.service';
import { ProgressStream } from './progress-stream';
import { QueueWait } from './queue-wait';
import { StreamSlots } from './stream-slots';

/** An object's progress as its caller may see it: the snapshot (with why a queued object waits), the live stream, the token that opens the stream. */
@Injectable()
export class ProgressService {
  constructor(
    private readonly objects: ObjectsRepository,
    private readonly objectsService: ObjectsService,
    private readonly queueWait: QueueWait,
    private readonly progressStream: ProgressStream,
    private readonly streamSlots: StreamSlots,
    private readonly streamTokens: StreamTokens,
  ) {}

  async progressOf(id: string, caller: Principal): Promise<ProgressWithWaitingResponse> {
    const progress = await this.objects.findProgressById(id);
    const team = visibleTeam(caller);
    if (!progress || (team !== undefined && progress.team !== team)) {
      throw new ObjectNotFoundError(id);
    }
    if (progress.state !== 'queued') {
      return toProgressView(progress);
    }
    // Read whole (the progress query stays lean for polling clients) for queued objects only; the view comes from this
    // second read too, so that a worker taking the object in between cannot make a `queued` answer without `waiting`.
    const object = await this.objects.findById(id);
    if (!object) {
      throw new ObjectNotFoundError(id);
    }
    return object.state === 'queued'
      ? { ...toProgressView(object), waiting: await this.queueWait.explain(object) }
      : toProgressView(object);
  }

  /** Streams the object's progress to `reply`, holding one of `client`'s stream slots until the response closes. */
  async stream(id: string, caller: Principal, resumeAfter: number | undefined, client: string, reply: FastifyReply): Promise<void> {
    // Held until the response closes, whether the stream completes, is refused (404, 204), the client leaves or the process stops.
    const release = this.streamSlots.take(client);
    reply.raw.once('close', release);
    if (reply.raw.destroyed) {
      release();
    }
    await this.progressStream.stream(await this.objectsService.getVisible(id, caller), resumeAfter, reply);
  }

  async streamToken(id: string, caller: Principal): Promise<StreamTokenResponse> {
    const object = await this.objectsService.getVisible(id, caller);
    const { token, expiresAt } = await this.streamTokens.issue(caller, object.id);
    return { token, expires_at: expiresAt.toISOString(), stream_url: `/api/v1/progress/${object.id}/stream?access_token=${token}` };
  }
}
