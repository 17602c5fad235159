import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { AppConfig, ConfigError } from './config/app-config';
import { createHttpApp, createWorkerContext } from './bootstrap';

async function main(): Promise<void> {
  const config = new AppConfig(process.env);
  if (config.runsApi) {
    const app = await createHttpApp(config);
    await app.listen(config.http.port, config.http.host);
    Logger.log(`Listening on ${await app.getUrl()} as role '${config.role}'`, 'Bootstrap');
  } else {
    await createWorkerContext(config);
    Logger.log("Running as role 'worker' (no HTTP API)", 'Bootstrap');
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});
