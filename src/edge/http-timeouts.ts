import type { FastifyHttpOptions } from 'fastify';
import type { Server } from 'node:http';
import { AppConfig } from '../config/app-config';

/** How often Node checks connections against the request and header timeouts, at most: also bounds how late they fire. */
const MAX_CHECK_INTERVAL_MS = 1000;

/**
 * The HTTP server's timeouts (Fastify 5 turns Node's off: requestTimeout and connectionTimeout are 0):
 * - requestTimeout: the whole request, headers and body, must arrive within HTTP_REQUEST_TIMEOUT_MS, or the
 *   client gets 408 request_timeout and the connection closes (a body trickled at 1 byte/s; an upload too slow
 *   for the limit). Checked only while the request is being received: a long answer such as a progress stream
 *   is not cut by it.
 * - headersTimeout: the headers within HTTP_HEADERS_TIMEOUT_MS (slowloris), 408 as well.
 * - connectionTimeout: HTTP_IDLE_TIMEOUT_MS without a byte either way while a request is received or answered
 *   closes the socket (a stalled upload: its pending object and S3 parts are removed as for any client that
 *   goes away). Progress streams turn it off for their socket and send heartbeats.
 * - keepAliveTimeout: an idle keep-alive connection between requests closes after HTTP_KEEP_ALIVE_TIMEOUT_MS;
 *   longer than the 60 s idle timeout of common load balancers, so that they, not this server, close first.
 */
export function httpTimeoutOptions(
  config: AppConfig,
): Pick<FastifyHttpOptions<Server>, 'requestTimeout' | 'connectionTimeout' | 'keepAliveTimeout' | 'http'> {
  const { requestMs, headersMs, idleMs, keepAliveMs } = config.httpTimeouts;
  return {
    requestTimeout: requestMs,
    connectionTimeout: idleMs,
    keepAliveTimeout: keepAliveMs,
    http: {
      headersTimeout: headersMs,
      requestTimeout: requestMs,
      connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, Math.ceil(headersMs / 4)),
    },
  };
}
