import { AppConfig } from './config/app-config';
import { migrateDatabase } from './database/migrate';
import { loadEnvFile } from './startup/env-file';
import { assertDatabaseReachable } from './startup/dependency-check';

async function main(): Promise<void> {
  loadEnvFile();
  const config = new AppConfig(process.env);
  await assertDatabaseReachable(config);
  const applied = await migrateDatabase(config);
  console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
