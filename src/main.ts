import './tracing';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { AppRole } from './app-role';
import { AppConfig, ConfigError } from './config/app-config';
import { createHttpApp, shutDown } from './bootstrap';
import { installProcessGuard } from './common/process-guard';
import { loadEnvFile } from './startup/env-file';
import { DependencyUnreachableError, assertDependenciesReachable } from './startup/dependency-check';

/** The configuration from the environment and .env, once PostgreSQL, Redis and S3 are known to answer. */
async function readyConfiguration(): Promise<AppConfig> {
  loadEnvFile();
  const config = new AppConfig(process.env);
  await assertDependenciesReachable(config);
  return config;
}

/** The roles `config` runs, each loaded only when run: a worker-only process never loads the API's modules, nor an API-only one the worker's. */
async function rolesOf(config: AppConfig): Promise<AppRole[]> {
  const roles: AppRole[] = [];
  if (config.runsApi) {
    roles.push((await import('./api-role.js')).apiRole);
  }
  if (config.runsWorker) {
    roles.push((await import('./worker-role.js')).workerRole);
  }
  return roles;
}

async function main(): Promise<void> {
  installProcessGuard();
  const config = await readyConfiguration();
  const app = await createHttpApp(config, await rolesOf(config));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      shutDown(app, config, signal).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
  if (config.runsApi) {
    await app.listen(config.http.port, config.http.host);
    Logger.log(`Listening on ${await app.getUrl()} as role '${config.role}'`, 'Bootstrap');
  } else {
    await app.listen(config.probePort, config.http.host);
    Logger.log(`Running as role 'worker' (no HTTP API); health probes on ${await app.getUrl()}`, 'Bootstrap');
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DependencyUnreachableError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});
