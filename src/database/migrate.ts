import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { AppConfig } from '../config/app-config';
import { mikroOrmOptions } from './mikro-orm.options';

/** Names the advisory lock every migrating process takes; PostgreSQL names advisory locks by number. */
const MIGRATION_LOCK = 4_815_162_342;

/**
 * Creates the database when it is missing and applies every pending migration. Processes migrating at once
 * (each new pod's init container) take turns: the first applies, the others then find nothing pending.
 */
export async function migrateDatabase(config: AppConfig): Promise<string[]> {
  const orm = await MikroORM.init(mikroOrmOptions(config));
  try {
    // The lock lives in the database, so it has to exist first.
    await orm.schema.ensureDatabase();
    return await holdingMigrationLock(config.databaseUrl, async () => (await orm.migrator.up()).map((migration) => migration.name));
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
