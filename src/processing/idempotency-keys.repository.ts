import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Pool, type PoolClient } from 'pg';
import { AppConfig } from '../config/app-config';
import type { SubmissionResponse } from './submission-response';

/**
 * Connections for claimed keys: a claim holds one for as long as its submission runs (an upload
 * included), so at most this many keyed submissions run at once per API process; more wait for one.
 * A pool of their own, so a claim never waits for a connection that the submissions it blocks hold.
 */
const CLAIM_CONNECTIONS = 10;

/** Expired keys removed per claim, so the table stays small without a sweep of its own. */
const PURGE_BATCH = 100;

/** The first submission made with a key, as a later request with that key is answered. */
export interface KeptSubmission {
  requestHash: string;
  objectId: string;
  response: SubmissionResponse;
}

/**
 * A key this request holds. Its row is inserted in a transaction kept open until the submission
 * ends, so a concurrent request with the same key waits in PostgreSQL for the outcome; a crashed
 * process's claim ends with its connection.
 */
export class ClaimedKey {
  private ended = false;

  constructor(
    private readonly key: string,
    private readonly client: PoolClient,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Keeps the submission's response under the key for the configured time. */
  async keep(submission: KeptSubmission): Promise<void> {
    try {
      await this.client.query(
        `update idempotency_keys set request_hash = $2, object_id = $3, response = $4, expires_at = now() + make_interval(secs => $5) where key = $1`,
        [this.key, submission.requestHash, submission.objectId, JSON.stringify(submission.response), this.ttlSeconds],
      );
      await this.end('commit');
    } catch (error) {
      if ((error as { code?: string }).code !== FOREIGN_KEY_VIOLATION) {
        await this.release();
        throw error;
      }
      // The object was deleted before its key was kept: the key is free, as after any deletion.
      this.logger.warn(`Object ${submission.objectId} was deleted before its Idempotency-Key was kept; the key is free again`);
      await this.release();
    }
  }

  /** Frees the key: the submission failed, and a retry with the same key is processed anew. */
  async release(): Promise<void> {
    await this.end('rollback');
  }

  private async end(statement: 'commit' | 'rollback'): Promise<void> {
    if (this.ended) {
      return;
    }
    this.ended = true;
    let broken: Error | undefined;
    try {
      await this.client.query(statement);
    } catch (error) {
      broken = error as Error;
      if (statement === 'commit') {
        throw error;
      }
      this.logger.warn(`Rolling back the claim of an Idempotency-Key failed (its connection is dropped, which ends the claim): ${String(error)}`);
    } finally {
      this.client.release(broken);
    }
  }
}

const FOREIGN_KEY_VIOLATION = '23503';

/** Idempotency-Keys, each a row of its own: who holds it, for which request, with which answer. */
@Injectable()
export class IdempotencyKeysRepository implements OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyKeysRepository.name);
  private readonly pool: Pool;

  constructor(private readonly config: AppConfig) {
    this.pool = new Pool({ connectionString: config.databaseUrl, max: CLAIM_CONNECTIONS });
    this.pool.on('error', (error) => this.logger.warn(`An idle Idempotency-Key connection failed: ${error.message}`));
  }

  /**
   * Claims `key`: free or expired, it is this request's until the claim is kept or released; taken,
   * the first submission made with it is returned (after waiting for one still running).
   */
  async claim(key: string): Promise<ClaimedKey | KeptSubmission> {
    const client = await this.pool.connect();
    try {
      await client.query(
        `delete from idempotency_keys where key in (
           select key from idempotency_keys where expires_at <= now() order by expires_at limit ${PURGE_BATCH} for update skip locked)`,
      );
      await client.query('begin');
      for (;;) {
        const claimed = await client.query(
          `insert into idempotency_keys (key, expires_at) values ($1, now() + make_interval(secs => $2))
             on conflict (key) do update set request_hash = null, object_id = null, response = null, created_at = now(), expires_at = excluded.expires_at
             where idempotency_keys.expires_at <= now()`,
          [key, this.config.idempotencyKeyTtlSeconds],
        );
        if (claimed.rowCount === 1) {
          return new ClaimedKey(key, client, this.config.idempotencyKeyTtlSeconds, this.logger);
        }
        // Another statement sees what committed meanwhile: the holder's kept submission.
        const { rows } = await client.query<{ request_hash: string; object_id: string; response: SubmissionResponse }>(
          `select request_hash, object_id, response from idempotency_keys where key = $1`,
          [key],
        );
        if (rows[0]) {
          await client.query('rollback');
          client.release();
          return { requestHash: rows[0].request_hash, objectId: rows[0].object_id, response: rows[0].response };
        }
      }
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}
