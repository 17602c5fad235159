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
  s3_url: string;
}

export const ProcessingObjectSchema = defineEntity({
  name: 'ProcessingObject',
  tableName: 'processing_objects',
  properties: {
    id: p.uuid().primary(),
    identifier: p.string(),
    state: p.enum(OBJECT_STATES),
    operations: p.json<string[]>(),
    plan: p.json<string[]>(),
    currentOperation: p.string().nullable(),
    progress: p.json<ObjectProgress>(),
    operationsStatus: p.json<Record<string, OperationStatus>>(),
    s3Artifacts: p.json<Record<string, string>>().fieldName('s3_artifacts'),
    errorMessage: p.text().nullable(),
    errorCode: p.string().nullable(),
    taskId: p.string().nullable(),
    source: p.json<ObjectSource>().nullable(),
    metadata: p.json<Record<string, unknown>>(),
    options: p.json<Record<string, unknown>>(),
    priority: p.integer(),
    attempts: p.integer(),
    idempotencyKey: p.string().nullable(),
    requestHash: p.string().nullable(),
    version: p.integer(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
});

export type ProcessingObject = InferEntity<typeof ProcessingObjectSchema>;
