import { Redis } from 'ioredis';
import { Client } from 'pg';
import { AppConfig } from '../config/app-config';

const CHECK_TIMEOUT_MS = 5000;

/** PostgreSQL's "database does not exist": the migration entry point creates it, so it is no obstacle there. */
const MISSING_DATABASE = '3D000';

/** A dependency that does not answer at start-up; its message is one line naming it, its address and the variable that sets it. */
export class DependencyUnreachableError extends Error {}

interface Dependency {
  name: string;
  variable: string;
  url: string;
  check(): Promise<void>;
}

/**
 * Fails fast, before the application boots, when PostgreSQL, Redis or (when S3_ENDPOINT is set) the S3
 * server does not answer: one line per unreachable dependency instead of endless reconnection noise.
 */
export async function assertDependenciesReachable(config: AppConfig, options: { databaseMayBeMissing?: boolean } = {}): Promise<void> {
  await assertReachable([
    postgres(config, options.databaseMayBeMissing ?? false),
    { name: 'Redis', variable: 'REDIS_URL', url: config.redis.url, check: () => checkRedis(config.redis.url) },
    ...(config.s3.endpoint
      ? [{ name: 'S3', variable: 'S3_ENDPOINT', url: config.s3.endpoint, check: () => checkHttp(config.s3.endpoint!) }]
      : []),
  ]);
}

/** The migration entry point's check: it needs only PostgreSQL, and creates a missing database itself. */
export async function assertDatabaseReachable(config: AppConfig): Promise<void> {
  await assertReachable([postgres(config, true)]);
}

function postgres(config: AppConfig, databaseMayBeMissing: boolean): Dependency {
  return {
    name: 'PostgreSQL',
    variable: 'DATABASE_URL',
    url: config.databaseUrl,
    check: () => checkPostgres(config.databaseUrl, databaseMayBeMissing),
  };
}

async function assertReachable(dependencies: Dependency[]): Promise<void> {
  const outcomes = await Promise.all(
    dependencies.map(async (dependency) => {
      try {
        await dependency.check();
        return [];
      } catch (reason) {
        return [`${dependency.name} is not reachable at ${withoutPassword(dependency.url)} (${dependency.variable}): ${reasonOf(reason)}`];
      }
    }),
  );
  const problems = outcomes.flat();
  if (problems.length > 0) {
    throw new DependencyUnreachableError(problems.join('\n'));
  }
}

async function checkPostgres(url: string, databaseMayBeMissing: boolean): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS, query_timeout: CHECK_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    if ((error as { code?: string }).code !== MISSING_DATABASE) {
      throw error;
    }
    if (!databaseMayBeMissing) {
      throw new Error(`${(error as Error).message} (npm run migrate creates it)`);
    }
  } finally {
    await client.end();
  }
}

async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CHECK_TIMEOUT_MS,
    commandTimeout: CHECK_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // connect() rejects with only "Connection is closed."; the socket's error says why, and without a listener ioredis would print it.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => (socketError = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw socketError ?? error;
  } finally {
    redis.disconnect();
  }
}

/** Any HTTP answer (even 403 or 404) shows the S3 server is there; bucket and credentials are checked later, by the application. */
async function checkHttp(url: string): Promise<void> {
  const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  await response.body?.cancel();
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  // fetch reports "fetch failed" and keeps the network error (ECONNREFUSED, ENOTFOUND) as its cause.
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const message = cause ? `${error.message}: ${cause.message}` : error.message;
  return message.replace(/\s+/g, ' ').trim();
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (!parsed.password) {
    return url;
  }
  parsed.password = '***';
  return parsed.toString();
}
