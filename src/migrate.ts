import { AppConfig } from './config/app-config';
import { migrateDatabase } from './database/migrate';

async function main(): Promise<void> {
  const applied = await migrateDatabase(new AppConfig(process.env));
  console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
