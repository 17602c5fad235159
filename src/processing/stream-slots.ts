import { HttpStatus, Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';
import { AppConfig } from '../config/app-config';

/** What a refused stream is told to wait before trying again (Retry-After): streams of settling objects end within seconds. */
const RETRY_AFTER = { 'retry-after': '5' };

/**
 * The open progress streams of this process, counted in total and per client, against SSE_MAX_STREAMS and
 * SSE_MAX_STREAMS_PER_CLIENT: each open stream holds one slot from before the object is read until its
 * response closes, however it ends.
 */
@Injectable()
export class StreamSlots {
  private open = 0;
  private readonly heldBy = new Map<string, number>();

  constructor(private readonly config: AppConfig) {}

  /** Takes a slot for `client`, or refuses: 429 when the client holds its share, 503 when the process is full. Returns the release (idempotent). */
  take(client: string): () => void {
    const { perProcess, perClient } = this.config.streamCaps;
    const held = this.heldBy.get(client) ?? 0;
    if (held >= perClient) {
      throw new DomainError(
        HttpStatus.TOO_MANY_REQUESTS,
        ErrorCode.TooManyStreams,
        `This client already has ${held} progress streams open, the most allowed (SSE_MAX_STREAMS_PER_CLIENT); close one first`,
        { limit: perClient },
        RETRY_AFTER,
      );
    }
    if (this.open >= perProcess) {
      throw new DomainError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ErrorCode.StreamsAtCapacity,
        `This instance already serves ${this.open} progress streams, the most it takes (SSE_MAX_STREAMS); try again shortly`,
        { limit: perProcess },
        RETRY_AFTER,
      );
    }
    this.open++;
    this.heldBy.set(client, held + 1);
    let released = false;
    return () => {
      if (released) {
        return;
      }
      released = true;
      this.open--;
      const left = (this.heldBy.get(client) ?? 1) - 1;
      if (left > 0) {
        this.heldBy.set(client, left);
      } else {
        this.heldBy.delete(client);
      }
    };
  }
}
