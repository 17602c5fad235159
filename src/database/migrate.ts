import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { AppConfig } from '../config/app-config';
import { mikroOrmOptions } from './mikro-orm.options';

/** Names the advisory lock every migrating process takes; PostgreSQL names advisory locks by number. */
const MIGRATION_LOCK = 4_815_162_342;

/** What PostgreSQL answers the loser of two concurrent CREATE DATABASE: a duplicate catalog row, or duplicate_database. */
const DATABASE_CREATED_MEANWHILE = ['23505', '42P04'];

/**
 * Creates the database when it is missing and applies every pending migration. Processes migrating at once
 * (each new pod's init container) take turns: the first applies, the others then find nothing pending.
 */
export async function migrateDatabase(config: AppConfig): Promise<string[]> {
  await ensureDatabase(config);
  const orm = await MikroORM.init(mikroOrmOptions(config));
  try {
    return await holdingMigrationLock(config.databaseUrl, async () => (await orm.migrator.up()).map((migration) => migration.name));
  } finally {
    await orm.close(true);
  }
}

/**
 * Creates the database when it is missing; losing a race to create it means it exists. The ORM that lost is
 * closed rather than reused: MikroORM leaves it connected to the maintenance database.
 */
async function ensureDatabase(config: AppConfig): Promise<void> {
  const orm = await MikroORM.init(mikroOrmOptions(config));
  try {
    await orm.schema.ensureDatabase();
  } catch (error) {
    if (!DATABASE_CREATED_MEANWHILE.includes((error as { code?: string }).code ?? '')) {
      throw error;
    }
  } finally {
    await orm.close(true);
  }
}

async function holdingMigrationLock<T>(databaseUrl: string, work: () => Promise<T>): Promise<T> {
  const session = new Client({ connectionString: databaseUrl });
  await session.connect();
  try {
    await session.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await work();
  } finally {
    // Ending the session releases the lock, also when the work failed.
    await session.end();
  }
}
