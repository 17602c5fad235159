import { Injectable } from '@nestjs/common';
import { EntityManager } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { ApiKeyNotFoundError } from './access-errors';
import { ApiKey, ApiKeySchema } from './api-key.entity';
import { issueKey, parseKey, secretMatches } from './api-key-secret';
import type { Principal, Scope } from './principal';

export interface NewApiKey {
  name: string;
  team: string;
  scopes: Scope[];
}

/** Why a presented key was refused: the answer's message. */
export type KeyRefusal = 'malformed' | 'unknown' | 'revoked';

/** Past this many remembered lookups the memory is emptied: unknown ids sent by a client must not grow it without bound. */
const MAX_REMEMBERED_LOOKUPS = 10_000;

/**
 * API keys: created (the key is returned once), listed, revoked, and checked on every request.
 * A key looked up once (found or not) is trusted for API_KEY_CACHE_MS without asking PostgreSQL
 * again; revoking a key takes effect here at once, and in other processes within that time.
 */
@Injectable()
export class ApiKeysService {
  /** Lookups by key id, each with when its read started: a slower read never replaces a newer one (a revocation). */
  private readonly lookups = new Map<string, { key: ApiKey | null; until: number; readAt: number }>();

  constructor(
    private readonly em: EntityManager,
    private readonly config: AppConfig,
  ) {}

  async create(request: NewApiKey): Promise<{ key: ApiKey; secret: string }> {
    const id = randomUUID();
    const issued = issueKey(id);
    const key: ApiKey = {
      id,
      name: request.name,
      team: request.team,
      scopes: [...new Set(request.scopes)],
      secretHash: issued.secretHash,
      createdAt: new Date(),
      revokedAt: null,
    };
    await this.em.fork().insert(ApiKeySchema, key);
    return { key, secret: issued.key };
  }

  async list(): Promise<ApiKey[]> {
    return this.em.fork().find(ApiKeySchema, {}, { orderBy: { createdAt: 'asc', id: 'asc' }, disableIdentityMap: true });
  }

  /** Every key ever created, revoked ones included. */
  async countAll(): Promise<number> {
    return this.em.fork().count(ApiKeySchema, {});
  }

  /** Revokes the key (again, harmlessly, when it already is); an unknown id is 404. */
  async revoke(id: string): Promise<ApiKey> {
    const em = this.em.fork();
    const readAt = Date.now();
    await em.nativeUpdate(ApiKeySchema, { id, revokedAt: null }, { revokedAt: new Date() });
    const key = await em.findOne(ApiKeySchema, { id }, { disableIdentityMap: true });
    if (!key) {
      throw new ApiKeyNotFoundError(id);
    }
    this.remember(id, key, readAt);
    return key;
  }

  /** The principal a presented key stands for, or why it is refused. */
  async authenticate(presented: string): Promise<Principal | KeyRefusal> {
    const parsed = parseKey(presented);
    if (!parsed) {
      return 'malformed';
    }
    const key = await this.lookUp(parsed.id);
    if (!key || !secretMatches(parsed.secret, key.secretHash)) {
      return 'unknown';
    }
    if (key.revokedAt) {
      return 'revoked';
    }
    return { keyId: key.id, keyName: key.name, team: key.team, scopes: key.scopes };
  }

  /** Whether the key with this id exists and is not revoked: stream tokens ask it each time they open a stream. */
  async isUsable(id: string): Promise<boolean> {
    const key = await this.lookUp(id);
    return key !== null && key.revokedAt === null;
  }

  private async lookUp(id: string): Promise<ApiKey | null> {
    const readAt = Date.now();
    const remembered = this.lookups.get(id);
    if (remembered && remembered.until > readAt) {
      return remembered.key;
    }
    const key = await this.em.fork().findOne(ApiKeySchema, { id }, { disableIdentityMap: true });
    this.remember(id, key, readAt);
    return key;
  }

  private remember(id: string, key: ApiKey | null, readAt: number): void {
    const ttl = this.config.access.keyCacheMs;
    const newer = this.lookups.get(id);
    if (ttl === 0 || (newer && newer.readAt > readAt)) {
      return;
    }
    if (this.lookups.size >= MAX_REMEMBERED_LOOKUPS) {
      this.lookups.clear();
    }
    this.lookups.set(id, { key, until: readAt + ttl, readAt });
  }
}
