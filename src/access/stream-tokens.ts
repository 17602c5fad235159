import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import type { Principal } from './principal';

/** The prefix that makes a stream token recognisable, and tells it from an API key. */
const TOKEN_PREFIX = 'opst_';
const TOKEN_FORMAT = /^opst_[A-Za-z0-9_-]{43}$/;

export interface IssuedStreamToken {
  token: string;
  expiresAt: Date;
}

/**
 * Short-lived tokens that open the progress stream of one object, for browsers: EventSource cannot
 * send an Authorization header, and a long-lived key must not travel in a URL. A token is kept in
 * Redis (shared by every API process) under its hash, and may be used again until it expires, so
 * that EventSource's own reconnects work.
 */
@Injectable()
export class StreamTokens {
  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  async issue(principal: Principal, objectId: string): Promise<IssuedStreamToken> {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const ttl = this.config.access.streamTokenTtlSeconds;
    const holder: Principal = {
      keyId: principal.keyId,
      keyName: principal.keyName,
      team: principal.team,
      scopes: ['read'],
      streamOf: objectId,
    };
    await this.redis.client.set(this.keyOf(token), JSON.stringify(holder), 'EX', ttl);
    return { token, expiresAt: new Date(Date.now() + ttl * 1000) };
  }

  /** The principal the token was issued for, limited to its object's stream; null when unknown or expired. */
  async verify(token: string): Promise<Principal | null> {
    if (!TOKEN_FORMAT.test(token)) {
      return null;
    }
    const stored = await this.redis.client.get(this.keyOf(token));
    return stored === null ? null : (JSON.parse(stored) as Principal);
  }

  private keyOf(token: string): string {
    return this.redis.key(`stream-token:${createHash('sha256').update(token).digest('hex')}`);
  }
}
