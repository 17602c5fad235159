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

/**
 * API keys: created (the key is returned once), listed, revoked, and checked on every request.
 * A key checked once is trusted for API_KEY_CACHE_MS without asking PostgreSQL again; revoking
 * a key forgets it here at once, and in other processes within that time.
 */
@Injectable()
export class ApiKeysService {
  private readonly verified = new Map<string, { key: ApiKey; until: number }>();

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

  async countUsable(): Promise<number> {
    return this.em.fork().count(ApiKeySchema, { revokedAt: null });
  }

  /** Revokes the key (again, harmlessly, when it already is); an unknown id is 404. */
  async revoke(id: string): Promise<ApiKey> {
    const em = this.em.fork();
    await em.nativeUpdate(ApiKeySchema, { id, revokedAt: null }, { revokedAt: new Date() });
    this.verified.delete(id);
    const key = await em.findOne(ApiKeySchema, { id }, { disableIdentityMap: true });
    if (!key) {
      throw new ApiKeyNotFoundError(id);
    }
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

  private async lookUp(id: string): Promise<ApiKey | null> {
    const now = Date.now();
    const cached = this.verified.get(id);
    if (cached && cached.until > now) {
      return cached.key;
    }
    const key = await this.em.fork().findOne(ApiKeySchema, { id }, { disableIdentityMap: true });
    if (key && this.config.access.keyCacheMs > 0) {
      this.verified.set(id, { key, until: now + this.config.access.keyCacheMs });
    }
    return key;
  }
}
