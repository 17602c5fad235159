import {
  Attributes,
  Context,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';

/**
 * Spans of this service's own work (jobs, operations), beside the instrumentations' spans. When
 * tracing is off every call here goes to the OpenTelemetry API's no-op implementation: no span is
 * recorded and no context is carried.
 */
const tracer = trace.getTracer('object-processing-service');

/** The W3C trace context of a span, as it crosses the queue or a process boundary. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The active span's trace context (empty when tracing is off or no span is active). */
export function currentTraceCarrier(): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context a carried trace continues in: a new trace when nothing was carried. */
export function contextFrom(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

export interface SpanSettings {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Errors that are an expected way for the work to end (the span is not marked failed). */
  expected?: (error: unknown) => boolean;
}

/** Runs `work` in a new child span of the active context; the span ends when the work settles, marked failed if it threw. */
export async function inSpan<T>(
  name: string,
  { kind = SpanKind.INTERNAL, attributes, expected }: SpanSettings,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = context.active();
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    if (!expected?.(error)) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    throw error;
  } finally {
    span.end();
  }
}

/** Sets attributes on the active span, if there is one. */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The `trace_id` and `span_id` a log line written now carries: none outside a span, or with tracing off. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) {
    return {};
  }
  const spanContext = span.spanContext();
  return isSpanContextValid(spanContext) ? { trace_id: spanContext.traceId, span_id: spanContext.spanId } : {};
}
