import { availableParallelism } from 'node:os';
import { z } from 'zod';

const MIB = 1024 * 1024;

const booleanFromString = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

const positiveInt = z.coerce.number().int().positive();

const envSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgresql://postgres@127.0.0.1:5432/object_processing'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('ops'),
  S3_ENDPOINT: z.url().optional(),
  S3_PUBLIC_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
    .default('object-artifacts'),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_FORCE_PATH_STYLE: booleanFromString.default(false),
  S3_PRESIGN_EXPIRES_SECONDS: positiveInt.max(604800).default(3600),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  MAX_PARALLEL_WORKERS: positiveInt.max(1000).default(3),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PROBE_PORT: z.coerce.number().int().min(0).max(65535).default(8001),
  SHUTDOWN_TIMEOUT_MS: positiveInt.min(1000).default(25000),
  APP_ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  PAYLOAD_LIMIT_BYTES: positiveInt.default(MIB),
  PAYLOAD_INLINE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(MIB)
    .default(64 * 1024),
  UPLOAD_LIMIT_BYTES: positiveInt.default(100 * MIB),
  IMAGE_MAX_PIXELS: positiveInt.default(100_000_000),
  JOB_ATTEMPTS: positiveInt.max(100).default(5),
  JOB_BACKOFF_MS: positiveInt.default(1000),
  WORKER_LOCK_DURATION_MS: positiveInt.min(1000).default(30000),
  WORKER_STALLED_INTERVAL_MS: positiveInt.min(500).default(30000),
  RECONCILE_INTERVAL_MS: positiveInt.min(100).max(3_600_000).default(5000),
  GLOBAL_LIMIT_CHECK_INTERVAL_MS: positiveInt.min(100).max(3_600_000).default(5000),
  OPERATION_TIME_BUDGET_MS: positiveInt.min(100).default(300_000),
  OPERATION_TIME_BUDGET_MAX_MS: positiveInt.min(100).default(3_600_000),
  OPERATION_MEMORY_BUDGET_MB: positiveInt.min(64).default(512),
  OPERATION_MEMORY_BUDGET_MAX_MB: positiveInt.min(64).default(2048),
  OPERATION_PROCESS_NICE: z.coerce.number().int().min(0).max(19).default(10),
  OPERATION_PROCESSES: positiveInt.max(1000).optional(),
  DEPENDENCY_RETRY_MS: positiveInt.min(100).default(2000),
  IDEMPOTENCY_KEY_TTL_SECONDS: positiveInt.max(30 * 86400).default(86400),
  RATE_LIMIT_REQUESTS: z.coerce.number().int().min(0).max(1_000_000_000).default(6000),
  RATE_LIMIT_SUBMISSIONS: z.coerce.number().int().min(0).max(1_000_000_000).default(600),
  RATE_LIMIT_WINDOW_MS: positiveInt.min(1000).max(86_400_000).default(60_000),
  RETENTION_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100 * 365 * 86400)
    .default(0),
  RETENTION_INTERVAL_SECONDS: positiveInt.max(7 * 86400).default(3600),
  RETENTION_BATCH_SIZE: positiveInt.max(1000).default(100),
  SIMULATED_OPERATION_DELAY_MS: z.coerce.number().int().min(0).max(600000).default(0),
  AUTH_REQUIRED: booleanFromString.default(true),
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  STREAM_TOKEN_TTL_SECONDS: positiveInt.min(10).max(86400).default(300),
  TEAM_MAX_QUEUED_OBJECTS: z.coerce.number().int().min(0).default(10_000),
  METRICS_REQUIRE_KEY: booleanFromString.default(false),
  CORS_ALLOWED_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin.length > 0),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(/^https?:\/\/[^/\s]+$/, 'a comma-separated list of origins like https://app.example.com (scheme and host, no path)'),
      ),
    )
    // As browsers send them in Origin: host in lower case, no default port.
    .transform((origins) => origins.map((origin) => new URL(origin).origin))
    .default([]),
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.min(100).default(600_000),
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.min(100).default(30_000),
  HTTP_IDLE_TIMEOUT_MS: positiveInt.min(100).default(60_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.min(100).default(72_000),
  HSTS_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(63_072_000).default(0),
  SSE_MAX_STREAMS: positiveInt.default(1000),
  SSE_MAX_STREAMS_PER_CLIENT: positiveInt.default(50),
  BULL_BOARD_PATH: z
    .string()
    .regex(/^(\/[A-Za-z0-9._-]+)+$/, 'a path like /admin/queues (no trailing slash)')
    .refine((path) => !/^\/(api|health|metrics|docs|ui)(\/|$)/.test(path), 'must not be under /api, /health, /metrics, /docs or /ui')
    .optional(),
  BULL_BOARD_USERNAME: z.string().min(1).optional(),
  BULL_BOARD_PASSWORD: z.string().min(1).optional(),
  BULL_BOARD_INSECURE: booleanFromString.default(false),
  WEBHOOK_ALLOWED_HOSTS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter((host) => host.length > 0),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9.:_\[\]-]+$/, 'a comma-separated list of host names or IP addresses')))
    .default([]),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: booleanFromString.default(false),
  WEBHOOK_TIMEOUT_MS: positiveInt.min(100).max(120_000).default(10_000),
  WEBHOOK_MAX_RESPONSE_BYTES: positiveInt.max(16 * MIB).default(65_536),
  WEBHOOK_RETRY_BASE_MS: positiveInt.min(10).default(5000),
  WEBHOOK_RETRY_MAX_DELAY_MS: positiveInt.min(10).default(3_600_000),
  WEBHOOK_RETRY_WINDOW_SECONDS: positiveInt.max(30 * 86400).default(86400),
  WEBHOOK_POLL_INTERVAL_MS: positiveInt.min(50).max(60_000).default(1000),
  // OpenTelemetry's own variables: the SDK reads these and the other OTEL_* itself; they are here to be validated and documented.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_SDK_DISABLED: booleanFromString.default(false),
});

export type AppRole = z.infer<typeof envSchema>['APP_ROLE'];

export class ConfigError extends Error {}

/** Typed, validated view of the environment; the only place that reads process.env. */
export class AppConfig {
  readonly databaseUrl: string;
  readonly redis: { url: string; prefix: string };
  readonly s3: {
    endpoint?: string;
    /** Where clients reach the same S3 server, when that differs from where this process reaches it: presigned URLs use it. */
    publicEndpoint?: string;
    bucket: string;
    region: string;
    forcePathStyle: boolean;
    presignExpiresSeconds: number;
    credentials?: { accessKeyId: string; secretAccessKey: string };
  };
  readonly maxParallelWorkers: number;
  readonly http: { port: number; host: string };
  /** Where a worker-only process serves its health probes (it has no API). */
  readonly probePort: number;
  readonly shutdownTimeoutMs: number;
  readonly role: AppRole;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /**
   * `payloadInlineBytes`: a JSON payload up to this size is kept in the object's row in PostgreSQL; a larger
   * one is stored in S3 as its source (0: every payload goes to S3).
   */
  readonly limits: { payloadBytes: number; payloadInlineBytes: number; uploadBytes: number; imagePixels: number };
  readonly jobs: {
    attempts: number;
    backoffMs: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    reconcileIntervalMs: number;
    globalLimitCheckIntervalMs: number;
    simulatedOperationDelayMs: number;
  };
  /**
   * What one run of one operation may spend: wall time and heap of its thread. An object may ask for
   * other values in options.budget, up to the maxima.
   */
  readonly operationBudget: { timeMs: number; maxTimeMs: number; memoryMb: number; maxMemoryMb: number };
  /**
   * The scheduling priority (nice value) operation processes lower themselves to: when content work
   * and the event loops that serve HTTP and renew job locks want the same CPU, those loops win.
   */
  readonly operationProcessNice: number;
  /**
   * How many operation processes a worker process keeps (OPERATION_PROCESSES; by default
   * MAX_PARALLEL_WORKERS, but no more than two per CPU core): content work is CPU work, and more
   * processes than cores only share the same cores, each with a heap and a JIT of its own to warm.
   * Jobs beyond it wait for a process; their time budget starts when their operation does.
   */
  readonly operationProcesses: number;
  /** How often a worker whose job met an unreachable PostgreSQL, Redis or S3 checks whether they are back. */
  readonly dependencyRetryMs: number;
  /** How long an Idempotency-Key answers with its first submission's response; then it is free again. */
  readonly idempotencyKeyTtlSeconds: number;
  /**
   * Per-client limits of /api/ requests, counted in Redis across every API process: `requests` for
   * every request, `submissions` in addition for POST /api/v1/process and /upload; 0 turns one off.
   */
  readonly rateLimits: { requests: number; submissions: number; windowMs: number };
  /**
   * Removal of settled objects (completed, failed, cancelled) whose finished_at is more than `maxAgeSeconds` ago, with
   * their events, idempotency keys, job and S3 artifacts: off when undefined (RETENTION_MAX_AGE_SECONDS=0, the default).
   * A run every `intervalSeconds` removes them `batchSize` at a time until none is left.
   */
  readonly retention?: { maxAgeSeconds: number; intervalSeconds: number; batchSize: number };
  /** The validated variables this configuration was read from: operation threads read theirs from it. */
  readonly env: Record<string, string>;
  /**
   * Who may do what. `required`: every API route but the probes, the docs and /ui wants an API key (off only when
   * explicitly turned off). A verified key is trusted for `keyCacheMs` (its revocation reaches other processes within
   * that time); a stream token lives `streamTokenTtlSeconds`; a team may have `teamMaxQueuedObjects` objects waiting (0: no cap).
   */
  readonly access: {
    required: boolean;
    keyCacheMs: number;
    streamTokenTtlSeconds: number;
    teamMaxQueuedObjects: number;
    metricsRequireKey: boolean;
  };
  /** Origins (scheme://host[:port]) whose pages may call the API from a browser; none by default. */
  readonly corsAllowedOrigins: readonly string[];
  /**
   * How long a client may take: to send the whole request (headers and body), to send its headers, to stay
   * silent while a request is read or answered, and to keep an idle keep-alive connection. In ms.
   */
  readonly httpTimeouts: { requestMs: number; headersMs: number; idleMs: number; keepAliveMs: number };
  /** Strict-Transport-Security max-age; 0 leaves the header out (the service is often plain HTTP behind an ingress). */
  readonly hstsMaxAgeSeconds: number;
  /** Open progress streams allowed at once: in this process, and per client (its key, or its address without one). */
  readonly streamCaps: { perProcess: number; perClient: number };
  /** The queue dashboard: off unless a path is set; basic auth (its own credentials, or an admin API key as the password) unless explicitly insecure. */
  readonly bullBoard?: { path: string; credentials?: { username: string; password: string } };
  /**
   * Webhook deliveries. Destinations on loopback, private, link-local, metadata or unspecified addresses are refused unless
   * their host is in `allowedHosts` or `allowPrivateNetworks` is on. One attempt may take `timeoutMs` and read `maxResponseBytes`
   * of the answer; a failed one is tried again after retryBaseMs × 2^(attempts − 1), at most `retryMaxDelayMs`, until
   * `retryWindowSeconds` after the event; workers look for due deliveries every `pollIntervalMs`.
   */
  readonly webhooks: {
    allowedHosts: readonly string[];
    allowPrivateNetworks: boolean;
    timeoutMs: number;
    maxResponseBytes: number;
    retryBaseMs: number;
    retryMaxDelayMs: number;
    retryWindowSeconds: number;
    pollIntervalMs: number;
  };

  constructor(env: Record<string, string | undefined>) {
    const parsed = envSchema.safeParse(withoutEmptyValues(env));
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
      throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
    }
    const e = parsed.data;
    if (e.OPERATION_TIME_BUDGET_MS > e.OPERATION_TIME_BUDGET_MAX_MS || e.OPERATION_MEMORY_BUDGET_MB > e.OPERATION_MEMORY_BUDGET_MAX_MB) {
      throw new ConfigError(
        'Invalid configuration: OPERATION_TIME_BUDGET_MS and OPERATION_MEMORY_BUDGET_MB must not exceed their _MAX_ counterparts',
      );
    }
    const known = new Set(Object.keys(envSchema.shape));
    this.env = Object.fromEntries(Object.entries(withoutEmptyValues(env)).filter(([name]) => known.has(name)));
    if ((e.AWS_ACCESS_KEY_ID === undefined) !== (e.AWS_SECRET_ACCESS_KEY === undefined)) {
      throw new ConfigError('Invalid configuration: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
    }
    if ((e.BULL_BOARD_USERNAME === undefined) !== (e.BULL_BOARD_PASSWORD === undefined)) {
      throw new ConfigError('Invalid configuration: BULL_BOARD_USERNAME and BULL_BOARD_PASSWORD must be set together');
    }
    if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
      throw new ConfigError('Invalid configuration: HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
    }
    if (e.BULL_BOARD_PATH && !e.BULL_BOARD_USERNAME && !e.AUTH_REQUIRED && !e.BULL_BOARD_INSECURE) {
      throw new ConfigError(
        'Invalid configuration: BULL_BOARD_PATH needs access control (AUTH_REQUIRED=true: admin API keys open it) or BULL_BOARD_USERNAME and BULL_BOARD_PASSWORD (or BULL_BOARD_INSECURE=true to serve the queue dashboard without authentication)',
      );
    }
    this.databaseUrl = e.DATABASE_URL;
    this.redis = { url: e.REDIS_URL, prefix: e.REDIS_PREFIX };
    this.s3 = {
      endpoint: e.S3_ENDPOINT,
      publicEndpoint: e.S3_PUBLIC_ENDPOINT,
      bucket: e.S3_BUCKET,
      region: e.S3_REGION,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      presignExpiresSeconds: e.S3_PRESIGN_EXPIRES_SECONDS,
      credentials:
        e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: e.AWS_ACCESS_KEY_ID, secretAccessKey: e.AWS_SECRET_ACCESS_KEY }
          : undefined,
    };
    this.maxParallelWorkers = e.MAX_PARALLEL_WORKERS;
    this.http = { port: e.PORT, host: e.HOST };
    this.probePort = e.PROBE_PORT;
    this.shutdownTimeoutMs = e.SHUTDOWN_TIMEOUT_MS;
    this.role = e.APP_ROLE;
    this.logLevel = e.LOG_LEVEL;
    this.limits = {
      payloadBytes: e.PAYLOAD_LIMIT_BYTES,
      payloadInlineBytes: e.PAYLOAD_INLINE_MAX_BYTES,
      uploadBytes: e.UPLOAD_LIMIT_BYTES,
      imagePixels: e.IMAGE_MAX_PIXELS,
    };
    this.jobs = {
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
      globalLimitCheckIntervalMs: e.GLOBAL_LIMIT_CHECK_INTERVAL_MS,
      simulatedOperationDelayMs: e.SIMULATED_OPERATION_DELAY_MS,
    };
    this.operationBudget = {
      timeMs: e.OPERATION_TIME_BUDGET_MS,
      maxTimeMs: e.OPERATION_TIME_BUDGET_MAX_MS,
      memoryMb: e.OPERATION_MEMORY_BUDGET_MB,
      maxMemoryMb: e.OPERATION_MEMORY_BUDGET_MAX_MB,
    };
    this.operationProcessNice = e.OPERATION_PROCESS_NICE;
    this.operationProcesses = Math.min(e.MAX_PARALLEL_WORKERS, e.OPERATION_PROCESSES ?? 2 * availableParallelism());
    this.dependencyRetryMs = e.DEPENDENCY_RETRY_MS;
    this.idempotencyKeyTtlSeconds = e.IDEMPOTENCY_KEY_TTL_SECONDS;
    this.access = {
      required: e.AUTH_REQUIRED,
      keyCacheMs: e.API_KEY_CACHE_MS,
      streamTokenTtlSeconds: e.STREAM_TOKEN_TTL_SECONDS,
      teamMaxQueuedObjects: e.TEAM_MAX_QUEUED_OBJECTS,
      metricsRequireKey: e.METRICS_REQUIRE_KEY,
    };
    this.rateLimits = { requests: e.RATE_LIMIT_REQUESTS, submissions: e.RATE_LIMIT_SUBMISSIONS, windowMs: e.RATE_LIMIT_WINDOW_MS };
    this.retention =
      e.RETENTION_MAX_AGE_SECONDS > 0
        ? { maxAgeSeconds: e.RETENTION_MAX_AGE_SECONDS, intervalSeconds: e.RETENTION_INTERVAL_SECONDS, batchSize: e.RETENTION_BATCH_SIZE }
        : undefined;
    this.corsAllowedOrigins = e.CORS_ALLOWED_ORIGINS;
    this.httpTimeouts = {
      requestMs: e.HTTP_REQUEST_TIMEOUT_MS,
      headersMs: e.HTTP_HEADERS_TIMEOUT_MS,
      idleMs: e.HTTP_IDLE_TIMEOUT_MS,
      keepAliveMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    };
    this.hstsMaxAgeSeconds = e.HSTS_MAX_AGE_SECONDS;
    this.streamCaps = { perProcess: e.SSE_MAX_STREAMS, perClient: e.SSE_MAX_STREAMS_PER_CLIENT };
    this.webhooks = {
      allowedHosts: e.WEBHOOK_ALLOWED_HOSTS,
      allowPrivateNetworks: e.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: e.WEBHOOK_MAX_RESPONSE_BYTES,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxDelayMs: e.WEBHOOK_RETRY_MAX_DELAY_MS,
      retryWindowSeconds: e.WEBHOOK_RETRY_WINDOW_SECONDS,
      pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
    };
    this.bullBoard = e.BULL_BOARD_PATH
      ? {
          path: e.BULL_BOARD_PATH,
          credentials:
            e.BULL_BOARD_USERNAME && e.BULL_BOARD_PASSWORD
              ? { username: e.BULL_BOARD_USERNAME, password: e.BULL_BOARD_PASSWORD }
              : undefined,
        }
      : undefined;
  }

  get runsApi(): boolean {
    return this.role !== 'worker';
  }

  get runsWorker(): boolean {
    return this.role !== 'api';
  }
}

/**
 * Whether OpenTelemetry tracing starts: an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or its
 * _TRACES_ form), and neither OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none turns it off. Read on its
 * own, before AppConfig exists, because the SDK must start before the modules it instruments load.
 */
export function tracingWanted(env: Record<string, string | undefined>): boolean {
  const e = withoutEmptyValues(env);
  const endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? e.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint !== undefined && !['true', '1'].includes(e.OTEL_SDK_DISABLED ?? '') && e.OTEL_TRACES_EXPORTER !== 'none';
}

function withoutEmptyValues(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
}
