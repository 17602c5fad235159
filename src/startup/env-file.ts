import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Reads `.env` in the working directory into process.env, when there is one. A variable already in the
 * environment wins over the file, even when set to an empty value (Node's own process.loadEnvFile rule).
 * Only entry points call this; configuration objects built in tests never see a developer's .env.
 */
export function loadEnvFile(path = resolve('.env')): void {
  if (existsSync(path)) {
    process.loadEnvFile(path);
  }
}
