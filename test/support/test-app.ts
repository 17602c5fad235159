import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../src/config/app-config';
import { apiRole } from '../../src/api-role';
import { createHttpApp } from '../../src/bootstrap';
import { workerRole } from '../../src/worker-role';
import { ResponseContract } from './response-contract';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  baseUrl: string;
  /** The environment the app was started with, for processes that must share its queue. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A unique Redis prefix, so each test app gets a queue of its own. */
export function uniquePrefix(): string {
  return `${process.env.REDIS_PREFIX}-${randomUUID().slice(0, 8)}`;
}

/** The real application on a free port, against the run's PostgreSQL, Redis and s3rver. */
export async function startTestApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  const env = { ...(process.env as Record<string, string>), REDIS_PREFIX: uniquePrefix(), ...overrides };
  const config = new AppConfig(env);
  const app = await createHttpApp(config, [...(config.runsApi ? [apiRole] : []), ...(config.runsWorker ? [workerRole] : [])]);
  const contract = new ResponseContract();
  contract.install(app.getHttpAdapter().getInstance());
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return {
    app,
    config,
    env,
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await app.close();
      // Fails the test file (its afterAll) when any response broke the committed contract.
      expect({ responsesOutsideTheContract: contract.violations }).toEqual({ responsesOutsideTheContract: [] });
    },
  };
}

export function uniqueIdentifier(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}
