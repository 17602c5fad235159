import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { OBJECT_STATES } from './object-state';

export interface ObjectProgress {
  current: number;
  total: number;
  message: string;
}

export interface OperationStatus {
  completed: boolean;
  s3_url: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  attempts: number;
  error: string | null;
  files?: string[];
}

export interface ObjectSource {
  content_type: string;
  size: number;
  sha256: string;
  /** Where the source is stored; absent for a payload kept inline with its object (at most PAYLOAD_INLINE_MAX_BYTES). */
  s3_url?: string;
  /** The client's file name, for uploads (display only; the key never uses it). */
  filename?: string;
}

/** The object's own webhook, from its submission: where, for which settling states, and the secret that signs it. */
export interface ObjectWebhook {
  url: string;
  events: string[];
  secret: string;
}

export const ProcessingObjectSchema = defineEntity({
  name: 'ProcessingObject',
  tableName: 'processing_objects',
  uniques: [{ name: 'processing_objects_identifier_unique', properties: ['identifier'] }],
  indexes: [
    {
      name: 'processing_objects_created_idx',
      columns: [
        { name: 'created_at', sort: 'desc' },
        { name: 'id', sort: 'desc' },
      ],
    },
    {
      name: 'processing_objects_state_created_idx',
      columns: [{ name: 'state' }, { name: 'created_at', sort: 'desc' }, { name: 'id', sort: 'desc' }],
    },
    {
      name: 'processing_objects_team_created_idx',
      columns: [{ name: 'team' }, { name: 'created_at', sort: 'desc' }, { name: 'id', sort: 'desc' }],
    },
    { name: 'processing_objects_team_state_idx', properties: ['team', 'state'] },
    { name: 'processing_objects_finished_at_idx', properties: ['finishedAt'] },
    {
      name: 'processing_objects_failed_idx',
      expression: `create index processing_objects_failed_idx on processing_objects (team, error_fingerprint, finished_at desc) where state = 'failed'`,
    },
    {
      name: 'processing_objects_plan_idx',
      expression: 'create index processing_objects_plan_idx on processing_objects using gin (plan jsonb_path_ops)',
    },
  ],
  properties: {
    id: p.uuid().primary(),
    identifier: p.string().length(200).collation('C'),
    /** The team of the key that submitted it: only that team (and admin keys) can see or change it. */
    team: p.string().length(100).collation('C').default('default'),
    state: p.enum(OBJECT_STATES),
    operations: p.json<string[]>(),
    plan: p.json<string[]>(),
    currentOperation: p.text().nullable(),
    progress: p.json<ObjectProgress>(),
    operationsStatus: p.json<Record<string, OperationStatus>>().defaultRaw(`'{}'`),
    s3Artifacts: p.json<Record<string, string>>().fieldName('s3_artifacts').defaultRaw(`'{}'`),
    errorMessage: p.text().nullable(),
    errorCode: p.text().nullable(),
    /** The same for failures of one cause: error_code and the message with its numbers and ids taken out, hashed. */
    errorFingerprint: p.string().length(16).nullable(),
    taskId: p.text().nullable(),
    source: p.json<ObjectSource>().nullable(),
    /** The source's bytes when it is kept inline (a small JSON payload); read only by what runs the operations. */
    sourceInline: p.blob().nullable().lazy(),
    metadata: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    options: p.json<Record<string, unknown>>().defaultRaw(`'{}'`),
    priority: p.integer().default(5),
    attempts: p.integer().default(0),
    idempotencyKey: p.text().nullable(),
    requestHash: p.text().nullable(),
    webhook: p.json<ObjectWebhook>().nullable(),
    version: p.integer().default(1),
    createdAt: p.datetime().defaultRaw('now()'),
    updatedAt: p.datetime().defaultRaw('now()'),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
});

export type ProcessingObject = InferEntity<typeof ProcessingObjectSchema>;
