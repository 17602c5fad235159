import type { QueuePauseResponse } from './dto/queue-pause.dto';
import type { PauseState } from './queue-pause';

export function toQueuePauseView(pause: PauseState | null): QueuePauseResponse {
  return {
    paused: pause !== null,
    mode: pause?.mode ?? null,
    reason: pause?.reason ?? null,
    since: pause?.since.toISOString() ?? null,
    paused_by_key_id: pause?.byKeyId ?? null,
    paused_by_key_name: pause?.byKeyName ?? null,
  };
}
