import { INestApplicationContext, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { serveOpenApi } from './openapi';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

function logLevels(config: AppConfig): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.logLevel) + 1);
}

/** The HTTP application (role api or all), ready to listen. */
export async function createHttpApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.limits.payloadBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    forceCloseConnections: true,
    // Identifiers are path parameters of up to 200 characters; Fastify answers 414 beyond 100 by default.
    routerOptions: { maxParamLength: 512 },
  });
  // Only JSON bodies are accepted: Fastify's text/plain parser goes, and Nest's form parser is never added (bodyParser: false).
  adapter.getInstance().removeContentTypeParser('text/plain');
  adapter.getInstance().addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: logLevels(config),
    abortOnError: false,
    bodyParser: false,
  });
  app.enableShutdownHooks();
  serveOpenApi(app);
  await app.init();
  return app;
}

/** A process without HTTP: the worker role. */
export async function createWorkerContext(config: AppConfig): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: logLevels(config), abortOnError: false });
  app.enableShutdownHooks();
  await app.init();
  return app;
}
