import { MikroORM } from '@mikro-orm/postgresql';
import { AppConfig } from '../config/app-config';
import { mikroOrmOptions } from './mikro-orm.options';

/** Creates the database when it is missing and applies every pending migration. */
export async function migrateDatabase(config: AppConfig): Promise<string[]> {
  const orm = await MikroORM.init({ ...mikroOrmOptions(config), ensureDatabase: true });
  try {
    const applied = await orm.migrator.up();
    return applied.map((migration) => migration.name);
  } finally {
    await orm.close(true);
  }
}
