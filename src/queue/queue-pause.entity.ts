import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const PAUSE_MODES = ['drain', 'stop'] as const;
export type PauseMode = (typeof PAUSE_MODES)[number];

/**
 * A paused queue: how (drain lets running objects finish, stop hands them back at their next operation),
 * why, since when and by which key. No row: the queue runs. The source of truth for the pause; the flag
 * BullMQ keeps in Redis is set from it.
 */
export const QueuePauseSchema = defineEntity({
  name: 'QueuePause',
  tableName: 'queue_pauses',
  properties: {
    queue: p.string().length(200).collation('C').primary(),
    mode: p.enum(PAUSE_MODES),
    reason: p.text(),
    pausedAt: p.datetime().defaultRaw('now()'),
    pausedByKeyId: p.uuid().nullable(),
    pausedByKeyName: p.text(),
  },
});

export type QueuePauseRow = InferEntity<typeof QueuePauseSchema>;
