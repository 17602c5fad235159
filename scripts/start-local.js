'use strict';
// `npm start`: the service on this machine, API and worker in one process on port 8000.
// Reads .env (variables already in the environment win), uses PostgreSQL and Redis on localhost,
// creates the database and applies migrations, and starts a local S3 (s3rver, data in .s3rver/) in a
// process of its own, which ends with this one, unless S3_ENDPOINT points at a real one.
const path = require('node:path');
const { spawnLocalS3 } = require('./local-s3');
const { loadEnvFile } = require('../dist/src/startup/env-file');
const { assertDependenciesReachable } = require('../dist/src/startup/dependency-check');

async function main() {
  loadEnvFile(path.join(__dirname, '..', '.env'));
  if (!process.env.S3_ENDPOINT) {
    const s3 = await spawnLocalS3({ directory: path.join(__dirname, '..', '.s3rver'), port: Number(process.env.LOCAL_S3_PORT || 4568) });
    Object.assign(process.env, s3.env);
    console.log(`Local S3 (s3rver) at ${s3.endpoint}, data in .s3rver/`);
  }
  const { AppConfig } = require('../dist/src/config/app-config');
  const { migrateDatabase } = require('../dist/src/database/migrate');
  const { createFirstKeyIfNone } = require('../dist/src/access/key-store');
  const config = new AppConfig(process.env);
  await assertDependenciesReachable(config, { databaseMayBeMissing: true });
  const applied = await migrateDatabase(config);
  console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
  const firstKey = await createFirstKeyIfNone(config);
  if (firstKey) {
    console.log(
      `\nCreated the first API key (admin, team 'default'); it is shown only now:\n\n  ${firstKey}\n\n` +
        'Send it as "Authorization: Bearer <key>", paste it into /ui, or set AUTH_REQUIRED=false to turn access control off.\n' +
        'More keys: npm run keys -- create --name <name> --team <team> --scopes read,write\n',
    );
  }
  require('../dist/src/main');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
