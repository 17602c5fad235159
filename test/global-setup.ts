import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../src/config/app-config';
import { migrateDatabase } from '../src/database/migrate';
import { testDatabaseUrl } from './test-environment';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startLocalS3 } = require('../scripts/local-s3') as {
  startLocalS3: (options: { directory: string }) => Promise<{ env: Record<string, string>; stop: () => Promise<void> }>;
};

/**
 * One database, one Redis key prefix and one s3rver for this test run, none shared with
 * anything else. Tests read them from the environment set here.
 */
export default async function globalSetup(): Promise<void> {
  const runId = `${Date.now().toString(36)}${process.pid}`;
  const directory = mkdtempSync(join(tmpdir(), 'ops-s3-'));
  const s3 = await startLocalS3({ directory });
  Object.assign(process.env, s3.env, {
    TEST_RUN_ID: runId,
    DATABASE_URL: testDatabaseUrl(runId),
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `opstest-${runId}`,
    S3_BUCKET: 'test-artifacts',
    LOG_LEVEL: 'warn',
    JOB_BACKOFF_MS: '200',
    // Every test app shares this database under a Redis prefix of its own: a reconciler would see the
    // other apps' objects as having no job and queue them again. Tests of the reconciler set their own.
    RECONCILE_INTERVAL_MS: '600000',
    PROBE_PORT: '0',
    // Suites about other things call the API without keys; the access suites (test/access-*.e2e-spec.ts) turn it on.
    AUTH_REQUIRED: 'false',
    // Every test client is 127.0.0.1, and suites such as the OpenAPI fuzz send thousands of requests: the limits still count
    // every /api/ request (and their headers are checked against the contract), but never refuse one. rate-limits.e2e-spec.ts sets its own.
    RATE_LIMIT_REQUESTS: '1000000',
    RATE_LIMIT_SUBMISSIONS: '1000000',
  });
  await migrateDatabase(new AppConfig(process.env));
  (globalThis as { __LOCAL_S3__?: { stop(): Promise<void>; directory: string } }).__LOCAL_S3__ = { stop: () => s3.stop(), directory };
}
