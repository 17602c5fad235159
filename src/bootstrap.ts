import { Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { AppRole } from './app-role';
import { authenticateRequests } from './access/authentication';
import { ApiKeysService } from './access/api-keys.service';
import { StreamTokens } from './access/stream-tokens';
import { AppConfig } from './config/app-config';
import { logRequests } from './logging/request-logging';
import { ShutdownSignal } from './common/shutdown-signal';
import { answerClientError, answerFrameworkError, parseJsonWithDepthLimit, refuseTunnels } from './common/framework-errors';
import { MetricsService } from './metrics/metrics.service';
import { registerCors } from './edge/cors';
import { refuseCrossSiteWrites } from './edge/cross-site-guard';
import { httpTimeoutOptions } from './edge/http-timeouts';
import { registerSecurityHeaders } from './edge/security-headers';
import { stopTracing } from './tracing/tracing-sdk';

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

function logLevels(config: AppConfig): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(config.logLevel) + 1);
}

/**
 * The application of `roles` (those `config` runs), ready to listen: the API with its docs for roles api
 * and all, only the health probes for a worker-only process.
 */
export async function createHttpApp(config: AppConfig, roles: readonly AppRole[]): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.limits.payloadBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // On close, idle keep-alive connections go at once; requests in flight are answered first.
    forceCloseConnections: 'idle',
    // Identifiers are path parameters of up to 200 characters; Fastify answers 414 beyond 100 by default.
    routerOptions: { maxParamLength: 512 },
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
    ...httpTimeoutOptions(config),
  });
  // Only JSON bodies are accepted: Fastify's text/plain parser goes, and Nest's form parser is never added (bodyParser: false).
  adapter.getInstance().removeContentTypeParser('text/plain');
  parseJsonWithDepthLimit(adapter.getInstance());
  refuseTunnels(adapter.getInstance().server);
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  registerSecurityHeaders(adapter.getInstance(), config);
  await registerCors(adapter.getInstance(), config);
  refuseCrossSiteWrites(adapter.getInstance(), config);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, roles), adapter, {
    logger: logLevels(config),
    bufferLogs: true,
    abortOnError: false,
    bodyParser: false,
  });
  // Start-up logs were held until the JSON logger exists; Nest would hold them until listen(), and lose them if init() failed.
  app.useLogger(app.get(PinoNestLogger));
  app.flushLogs();
  if (config.access.required) {
    authenticateRequests(adapter.getInstance(), pathsUsingKeys(config), app.get(ApiKeysService), app.get(StreamTokens));
  }
  logRequests(adapter.getInstance(), await app.resolve(PinoLogger));
  const metrics = app.get(MetricsService);
  adapter.getInstance().addHook('onResponse', (request, reply, done) => {
    metrics.observeHttpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  for (const role of roles) {
    await role.install?.(app, config);
  }
  await app.init();
  return app;
}

/** The paths whose requests may carry a key worth looking up: the API, /metrics when it needs one, the queue dashboard. */
function pathsUsingKeys(config: AppConfig): (path: string) => boolean {
  const dashboard = config.bullBoard?.path;
  return (path) =>
    path.startsWith('/api/') ||
    (config.access.metricsRequireKey && path === '/metrics') ||
    (dashboard !== undefined && (path === dashboard || path.startsWith(`${dashboard}/`)));
}

/** Stops the application in order: not ready first, then streams and jobs, then connections; bounded by the shutdown timeout. */
export async function shutDown(app: NestFastifyApplication, config: AppConfig, signal: string): Promise<void> {
  const logger = new Logger('Shutdown');
  logger.log(`${signal} received: stopping within ${config.shutdownTimeoutMs} ms`);
  app.get(ShutdownSignal).begin();
  const deadline = setTimeout(() => {
    logger.error(`Shutdown did not finish within ${config.shutdownTimeoutMs} ms; exiting`);
    process.exit(1);
  }, config.shutdownTimeoutMs);
  deadline.unref();
  await app.close();
  await stopTracing((message) => logger.warn(message));
  clearTimeout(deadline);
  logger.log('Stopped');
}
