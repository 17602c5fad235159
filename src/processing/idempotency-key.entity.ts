import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { ProcessingObjectSchema } from '../objects/processing-object.entity';
import type { SubmissionResponse } from './submission-response';

/**
 * An Idempotency-Key of a team and the submission it answered: the request's hash, the object it created and
 * the response it got. Kept until `expiresAt`; deleting the object deletes its key too. While the
 * submission runs, `response` is null and `expiresAt` is the lease of its claim.
 */
export const IdempotencyKeySchema = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  indexes: [{ name: 'idempotency_keys_expires_at_index', properties: ['expiresAt'] }],
  properties: {
    team: p.string().length(100).collation('C').primary().default('default'),
    key: p.string().length(200).collation('C').primary(),
    requestHash: p.text().nullable(),
    object: () =>
      p.manyToOne(ProcessingObjectSchema).nullable().deleteRule('cascade').fieldName('object_id').index('idempotency_keys_object_id_index'),
    response: p.json<SubmissionResponse>().columnType('json').nullable(),
    claimToken: p.uuid(),
    createdAt: p.datetime().defaultRaw('now()'),
    expiresAt: p.datetime(),
  },
});

export type IdempotencyKey = InferEntity<typeof IdempotencyKeySchema>;
