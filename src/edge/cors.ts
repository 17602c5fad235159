import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { AppConfig } from '../config/app-config';

/** What browser clients of the API send: the methods of its routes and the request headers they use. */
const ALLOWED_METHODS = ['GET', 'POST', 'DELETE'];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'Last-Event-ID', 'X-Request-Id'];
/** Response headers a cross-origin script may read: Retry-After and the RateLimit headers (both IETF drafts' forms), and the request id. */
const EXPOSED_HEADERS = [
  'Retry-After',
  'RateLimit',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'RateLimit-Policy',
  'X-Request-Id',
];
/** How long a browser may reuse a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

const COMMON: FastifyCorsOptions = {
  methods: ALLOWED_METHODS,
  allowedHeaders: ALLOWED_HEADERS,
  maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  // A preflight without Origin or Access-Control-Request-Method (curl -X OPTIONS) is answered like any other, not with a text/plain 400.
  strictPreflight: false,
};

/**
 * CORS for the origins in CORS_ALLOWED_ORIGINS (exact matches; none by default), by @fastify/cors. An allowed
 * origin gets Access-Control-Allow-Origin (its own origin, never `*`) and the exposed headers; any other origin,
 * or a request without one, gets no Access-Control-Allow-Origin, so a browser keeps the answer from its script.
 * Every preflight (OPTIONS) is answered 204 with the methods and headers the API takes, whatever its origin:
 * only Access-Control-Allow-Origin tells an allowed preflight from a refused one. No credentials mode: the API
 * authenticates with the Authorization header, not cookies.
 */
export async function registerCors(fastify: FastifyInstance, config: AppConfig): Promise<void> {
  const allowed = new Set(config.corsAllowedOrigins);
  const forAllowed: FastifyCorsOptions = { ...COMMON, origin: [...allowed], exposedHeaders: EXPOSED_HEADERS };
  const forOthers: FastifyCorsOptions = { ...COMMON, origin: [] };
  await fastify.register(fastifyCors, {
    hideOptionsRoute: true,
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      callback(null, origin !== undefined && allowed.has(origin) ? forAllowed : forOthers);
    },
  });
}

/** Whether a browser on `origin` may call the API (CORS_ALLOWED_ORIGINS): such requests are not cross-site refusals either. */
export function isAllowedOrigin(config: AppConfig, origin: string): boolean {
  return config.corsAllowedOrigins.includes(origin);
}
