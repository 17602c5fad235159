import { DiagConsoleLogger, DiagLogLevel, diag, trace } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { withTimeout } from '../common/with-timeout';

/** Probes and scrapes come every few seconds: they make no trace. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/** Which process is starting: the service (API and/or worker) or an operation process (only S3 calls). */
export type TracedProcess = 'service' | 'operation-process';

let sdk: NodeSDK | undefined;

/**
 * Starts the OpenTelemetry SDK: spans of HTTP (in and out), Fastify routes, PostgreSQL, Redis and S3
 * calls, exported over OTLP as the standard OTEL_* variables say (endpoint, protocol, headers,
 * service name, sampler, batch delay). Must run before any instrumented module is loaded: the
 * instrumentations patch modules as they are required. The SDK and its instrumentations are
 * required here, not imported, so that a process without tracing never loads them.
 */
export function startTracing(process: TracedProcess): void {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { AwsInstrumentation } =
    require('@opentelemetry/instrumentation-aws-sdk') as typeof import('@opentelemetry/instrumentation-aws-sdk');
  const instrumentations: Instrumentation[] = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? ''),
      // Outgoing HTTP is S3's, traced as S3 calls; PostgreSQL and Redis speak their own protocols.
      requireParentforOutgoingSpans: true,
    }),
    // One span per S3 call, without the HTTP request under it.
    new AwsInstrumentation({ suppressInternalInstrumentation: true }),
  ];
  if (process === 'service') {
    const { FastifyOtelInstrumentation } = require('@fastify/otel') as typeof import('@fastify/otel');
    const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
    const { IORedisInstrumentation } =
      require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
    instrumentations.push(
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // One span per request: one per hook and for the handler would outnumber the work they time.
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: (route) => UNTRACED_PATHS.test(route.url),
        requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`),
      }),
      // Queries and commands made outside a traced request or job (pollers, lock renewals, the reconciler) make no trace of their
      // own; taking a connection from the pool makes no span, its queries do.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    );
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  if (!globalThis.process.env.OTEL_LOG_LEVEL) {
    // The SDK's own errors (an export the collector refused or never answered) go to stderr; it says nothing otherwise.
    diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.ERROR);
  }
  sdk = new NodeSDK({
    serviceName: globalThis.process.env.OTEL_SERVICE_NAME ? undefined : 'object-processing-service',
    instrumentations,
    // Traces only: metrics are Prometheus's (/metrics), logs are JSON lines on stdout carrying trace ids.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
}

/** Whether startTracing ran in this process. */
export function tracingStarted(): boolean {
  return sdk !== undefined;
}

/**
 * How long an operation process waits for its spans to be exported after a run: a collector that is slow or does not
 * answer costs an operation no more (the export goes on meanwhile, and is lost only if the process is ended first).
 */
const FLUSH_WAIT_MS = 250;

/**
 * Exports the spans still buffered, waiting at most FLUSH_WAIT_MS; nothing when tracing is off. An operation
 * process calls it after a run that its pool ends the process after (see OperationTask.flushSpans).
 */
export async function flushTracing(): Promise<void> {
  if (!sdk) {
    return;
  }
  const provider = trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } };
  const flushed = provider
    .getDelegate?.()
    .forceFlush?.()
    .catch((error: unknown) => console.error(`Spans not exported: ${(error as Error).message}`));
  await withTimeout(Promise.resolve(flushed), FLUSH_WAIT_MS, () => undefined, { unref: true });
}

/** How long stopping waits for the last spans to be exported: a collector that does not answer does not hold the shutdown up. */
const STOP_WAIT_MS = 2000;

/** Exports what is buffered and stops the SDK, waiting at most STOP_WAIT_MS; nothing when tracing is off. Never rejects. */
export async function stopTracing(warn: (message: string) => void): Promise<void> {
  if (!sdk) {
    return;
  }
  const stopped = sdk.shutdown().catch((error: unknown) => warn(`The last spans were not exported: ${(error as Error).message}`));
  sdk = undefined;
  await withTimeout(stopped, STOP_WAIT_MS, () => undefined, { unref: true });
}
