import { DynamicModule } from '@nestjs/common';
import { LoggerModule, Params } from 'nestjs-pino';
import { destination, stdTimeFunctions, type LevelWithSilent } from 'pino';
import { AppConfig } from '../config/app-config';
import { traceLogFields } from '../tracing/trace-context';
import { tracingStarted } from '../tracing/tracing-sdk';

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
 * every line logged while a worker handles a job carries `objectId`, `jobId` and the `reqId` of the request
 * that queued the job (see ObjectJobsProcessor). With tracing on, every line logged inside a span (a request, a job,
 * an operation) carries its `trace_id` and `span_id`.
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
        // Only with tracing on: otherwise no line has a trace, and none pays for looking.
        ...(tracingStarted() ? { mixin: traceLogFields } : {}),
        serializers: {
          req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, url: withoutSecrets(req.url) }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
      },
      destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 50 }),
    ],
    forRoutes: [],
  };
}

/** A key or stream token, also with its underscore percent-encoded. */
const SECRET = /ops[kt](?:_|%5f)[A-Za-z0-9_%-]*/gi;

/**
 * The URL as logged: a stream token in it (EventSource cannot send headers) opens a stream for minutes, and a
 * key pasted into a URL by mistake works until revoked; neither is written out, however its name or value
 * is encoded. Most URLs hold neither and are returned as they are.
 */
export function withoutSecrets(url: string | undefined): string | undefined {
  if (url === undefined || !/ops|access|%/i.test(url)) {
    return url;
  }
  const [path = '', query] = url.split(/\?(.*)/s, 2);
  const redactedPath = path.replace(SECRET, '[redacted]');
  if (query === undefined) {
    return redactedPath;
  }
  const pairs = [...new URLSearchParams(query)].map(([name, value]) =>
    name === 'access_token' || /ops[kt]_/i.test(value)
      ? `${encodeURIComponent(name)}=[redacted]`
      : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`,
  );
  return `${redactedPath}?${pairs.join('&').replace(SECRET, '[redacted]')}`;
}

export const LoggingModule: DynamicModule = LoggerModule.forRootAsync({
  inject: [AppConfig],
  useFactory: loggerParams,
});
