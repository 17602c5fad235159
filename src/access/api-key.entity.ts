import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { Scope } from './principal';

/** An API key as stored: its name, team and scopes, and the SHA-256 of its secret (never the secret). */
export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary(),
    name: p.string().length(100),
    team: p.string().length(100).collation('C'),
    scopes: p.json<Scope[]>(),
    secretHash: p.string().length(64),
    createdAt: p.datetime().defaultRaw('now()'),
    revokedAt: p.datetime().nullable(),
  },
});

export type ApiKey = InferEntity<typeof ApiKeySchema>;
