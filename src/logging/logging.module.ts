import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { DynamicModule } from '@nestjs/common';
import { LoggerModule, Params } from 'nestjs-pino';
import { stdTimeFunctions, type LevelWithSilent } from 'pino';
import { AppConfig } from '../config/app-config';

const PINO_LEVELS: Record<AppConfig['logLevel'], LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** Probes and scrapes come every few seconds: they get no request log line of their own. */
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * JSON lines on stdout. Every line logged while handling a request carries `reqId` (the
 * Fastify request id, taken from x-request-id when the client sends one); every line logged
 * while a worker handles a job carries `objectId` and `jobId` (see ObjectWorker).
 */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: PINO_LEVELS[config.logLevel],
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      base: { pid: process.pid, role: config.role },
      genReqId: (req) => req.id ?? randomUUID(),
      quietReqLogger: true,
      serializers: {
        req: (req: IncomingMessage & { id?: unknown }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
      // Middleware may see a url with its mount path stripped; originalUrl is the one the client sent.
      autoLogging: { ignore: (req: IncomingMessage & { originalUrl?: string }) => QUIET_PATHS.test(req.originalUrl ?? req.url ?? '') },
    },
  };
}

export const LoggingModule: DynamicModule = LoggerModule.forRootAsync({
  inject: [AppConfig],
  useFactory: loggerParams,
});
