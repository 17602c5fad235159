import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ProcessingObjectSchema } from './processing-object.entity';
import type { ProgressFields } from './object.presenter';

export const OBJECT_EVENT_KINDS = [
  'state_changed',
  'operation_started',
  'operation_progress',
  'operation_finished',
  'operation_failed',
] as const;
export type ObjectEventKind = (typeof OBJECT_EVENT_KINDS)[number];

/** What an object looked like right after the change: the fields of its progress view. */
export type ObjectSnapshot = Omit<ProgressFields, 'id' | 'identifier' | 'plan'>;

/**
 * One change of an object, recorded in the same statement as the change itself; `seq` is the
 * object's version after it, so the events of an object are gap-free and strictly increasing.
 */
export const ObjectEventSchema = defineEntity({
  name: 'ObjectEvent',
  tableName: 'object_events',
  properties: {
    object: () => p.manyToOne(ProcessingObjectSchema).primary().deleteRule('cascade').fieldName('object_id'),
    seq: p.integer().primary(),
    kind: p.text(),
    operation: p.text().nullable(),
    snapshot: p.json<ObjectSnapshot>(),
    createdAt: p.datetime().defaultRaw('now()'),
  },
});

export type ObjectEvent = InferEntity<typeof ObjectEventSchema>;

/** The event a change records besides its snapshot: what kind of change, and of which operation. */
export interface RecordedEvent {
  kind: ObjectEventKind;
  operation: string | null;
}

/** One event of an object's event log, as streams and webhooks read it. */
export interface ObjectEventRecord extends RecordedEvent {
  seq: number;
  snapshot: ObjectSnapshot;
}
