import { Injectable, Logger } from '@nestjs/common';
import { ForeignKeyConstraintViolationException } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config';
import { Sql } from '../database/sql';
import type { KeptResponse } from './submission-response';

/**
 * How long a claim lasts unless its submission renews it: a claim left by a process that died
 * frees its key after this long. Renewed every third of it while the submission runs.
 */
const CLAIM_LEASE_SECONDS = 10;
const CLAIM_RENEW_MS = (CLAIM_LEASE_SECONDS * 1000) / 3;

/**
 * How often a request whose key is claimed by a running submission looks for that submission's
 * outcome: soon at first (most submissions take milliseconds), then less often (an upload may take minutes).
 */
const OUTCOME_POLL_FIRST_MS = 20;
const OUTCOME_POLL_MAX_MS = 1000;

/** Expired keys removed per claim, so the table stays small without a sweep of its own. */
const PURGE_BATCH = 100;

/** The first submission made with a key, as a later request with that key is answered. */
export interface KeptSubmission {
  requestHash: string;
  /** The object it created; null for a batch, which created several. */
  objectId: string | null;
  response: KeptResponse;
}

/** A key this request holds: it ends either kept (with the response) or released (free again). */
export interface ClaimedKey {
  keep(submission: KeptSubmission): Promise<void>;
  release(): Promise<void>;
}

interface KeyRow {
  request_hash: string | null;
  object_id: string | null;
  response: KeptResponse | null;
}

/**
 * Idempotency-Keys, each a row of its own. A claim is committed at once, with a lease and a token
 * of its own (response null: the submission is running); no connection or transaction is held
 * while the submission stores its content.
 */
@Injectable()
export class IdempotencyKeysRepository {
  private readonly logger = new Logger(IdempotencyKeysRepository.name);

  constructor(
    private readonly sql: Sql,
    private readonly config: AppConfig,
  ) {}

  /**
   * Claims `key` if it is free or expired; otherwise returns the first submission made with it,
   * once the one still running (if any) has ended. A released claim lets a waiting request claim it.
   */
  async claim(team: string, key: string): Promise<ClaimedKey | KeptSubmission> {
    await this.purgeExpired();
    const token = randomUUID();
    for (let pause = OUTCOME_POLL_FIRST_MS; ; pause = Math.min(pause * 2, OUTCOME_POLL_MAX_MS)) {
      const claimed = await this.sql.prepared<{ key: string }>(
        `insert into idempotency_keys (team, key, claim_token, expires_at) values (?, ?, ?, now() + make_interval(secs => ?))
           on conflict (team, key) do update set request_hash = null, object_id = null, response = null, claim_token = excluded.claim_token,
             created_at = now(), expires_at = excluded.expires_at
           where idempotency_keys.expires_at <= now()
           returning key`,
        [team, key, token, CLAIM_LEASE_SECONDS],
      );
      if (claimed.length === 1) {
        return this.held(team, key, token);
      }
      const [row] = await this.sql.prepared<KeyRow>(
        `select request_hash, object_id, response from idempotency_keys where team = ? and key = ?`,
        [team, key],
      );
      if (row?.response && row.request_hash) {
        return { requestHash: row.request_hash, objectId: row.object_id, response: row.response };
      }
      await sleep(pause);
    }
  }

  private held(team: string, key: string, token: string): ClaimedKey {
    const renewal = setInterval(() => {
      this.sql
        .prepared(
          `update idempotency_keys set expires_at = now() + make_interval(secs => ?) where team = ? and key = ? and claim_token = ? and response is null`,
          [CLAIM_LEASE_SECONDS, team, key, token],
        )
        .catch((error: unknown) =>
          this.logger.warn(`Renewing the claim of an Idempotency-Key failed (retried in ${CLAIM_RENEW_MS} ms): ${String(error)}`),
        );
    }, CLAIM_RENEW_MS);
    renewal.unref();
    return {
      keep: async (submission) => {
        clearInterval(renewal);
        await this.keep(team, key, token, submission);
      },
      release: async () => {
        clearInterval(renewal);
        await this.sql.prepared(`delete from idempotency_keys where team = ? and key = ? and claim_token = ? and response is null`, [
          team,
          key,
          token,
        ]);
      },
    };
  }

  private async keep(team: string, key: string, token: string, submission: KeptSubmission): Promise<void> {
    try {
      const kept = await this.sql.prepared<{ key: string }>(
        `update idempotency_keys set request_hash = ?, object_id = ?, response = ?::json, expires_at = now() + make_interval(secs => ?)
           where team = ? and key = ? and claim_token = ? and response is null returning key`,
        [
          submission.requestHash,
          submission.objectId,
          JSON.stringify(submission.response),
          this.config.idempotencyKeyTtlSeconds,
          team,
          key,
          token,
        ],
      );
      if (kept.length === 0) {
        this.logger.warn(`The claim of an Idempotency-Key for object ${submission.objectId} had lapsed; the key was not kept`);
      }
    } catch (error) {
      if (!(error instanceof ForeignKeyConstraintViolationException)) {
        throw error;
      }
      // Deleted before its key was kept: the key is free, as after any deletion.
      this.logger.warn(`Object ${submission.objectId} was deleted before its Idempotency-Key was kept; the key is free again`);
      await this.sql.prepared(`delete from idempotency_keys where team = ? and key = ? and claim_token = ?`, [team, key, token]);
    }
  }

  private async purgeExpired(): Promise<void> {
    await this.sql.prepared(
      `delete from idempotency_keys where (team, key) in (
         select team, key from idempotency_keys where expires_at <= now() order by expires_at limit ? for update skip locked)`,
      [PURGE_BATCH],
    );
  }
}
