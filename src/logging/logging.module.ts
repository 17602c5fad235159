import { DynamicModule } from '@nestjs/common';
import { LoggerModule, Params } from 'nestjs-pino';
import { destination, stdTimeFunctions, type LevelWithSilent } from 'pino';
import { AppConfig } from '../config/app-config';

const PINO_LEVELS: Record<AppConfig['logLevel'], LevelWithSilent> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * JSON lines on stdout. Every line logged while handling a request carries `reqId` (the
 * Fastify request id, taken from x-request-id when the client sends one; see request-logging.ts);
 * every line logged while a worker handles a job carries `objectId` and `jobId` (see ObjectWorker).
 * nestjs-pino's own request middleware is mounted on no route: the Fastify hooks do that job.
 *
 * stdout is written asynchronously, in batches of 4 KiB or every 50 ms, whichever comes first, rather
 * than with one blocking write (a system call on the request's path) per line. pino flushes what is
 * left when the process exits; a SIGKILL loses at most the last 50 ms of lines.
 */
export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: [
      {
        level: PINO_LEVELS[config.logLevel],
        timestamp: stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        base: { pid: process.pid, role: config.role },
        serializers: {
          req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, url: withoutAccessToken(req.url) }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
      },
      destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 50 }),
    ],
    forRoutes: [],
  };
}

/** A stream token in a URL (EventSource cannot send headers) opens a stream for minutes: logs keep only that there was one. */
export function withoutAccessToken(url: string | undefined): string | undefined {
  return url?.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]');
}

export const LoggingModule: DynamicModule = LoggerModule.forRootAsync({
  inject: [AppConfig],
  useFactory: loggerParams,
});
