import { HttpStatus } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode } from '../common/error-codes';
import { errorBody } from '../common/http-exception.filter';
import { AppConfig } from '../config/app-config';
import { isAllowedOrigin } from './cors';

/** Methods that change nothing here; everything else (POST, DELETE, …) is a state change. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses, with 403 cross_site_request, every state-changing request a browser sent on behalf of another
 * site: a form post or a script on https://evil.example submitting, cancelling or deleting with the
 * operator's browser. A browser says so in Sec-Fetch-Site (cross-site) or in Origin (not this host); an
 * origin in CORS_ALLOWED_ORIGINS is trusted. Clients that send neither header (curl, SDKs, other services)
 * are not browsers and pass, as do same-origin pages such as /ui.
 * Behind a proxy that rewrites Host, list the public origin in CORS_ALLOWED_ORIGINS.
 */
export function refuseCrossSiteWrites(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (SAFE_METHODS.has(request.method)) {
      return;
    }
    const refusal = crossSiteRefusal(request, config);
    if (refusal === undefined) {
      return;
    }
    if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined) {
      // The body (perhaps a large upload) is never read: close rather than read it to keep the connection.
      void reply.header('connection', 'close');
    }
    return reply
      .code(HttpStatus.FORBIDDEN)
      .header('content-type', 'application/json; charset=utf-8')
      .send(errorBody(HttpStatus.FORBIDDEN, ErrorCode.CrossSiteRequest, refusal.message, refusal.details));
  });
}

function crossSiteRefusal(request: FastifyRequest, config: AppConfig): { message: string; details: Record<string, string> } | undefined {
  const origin = request.headers.origin;
  if (origin !== undefined && isAllowedOrigin(config, origin)) {
    return undefined;
  }
  const site = request.headers['sec-fetch-site'];
  if (origin !== undefined && !isOwnOrigin(origin, request.headers.host)) {
    return { message: `Cross-site request refused: origin '${origin}' may not change anything here`, details: { origin } };
  }
  if (site === 'cross-site') {
    return {
      message: 'Cross-site request refused: a page on another site may not change anything here',
      details: { sec_fetch_site: site },
    };
  }
  return undefined;
}

/** Whether Origin names this host as the client reached it (scheme aside: TLS may end at a proxy). `null` and malformed origins are not. */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin)) {
    return false;
  }
  const from = new URL(origin);
  // Parsed with the origin's scheme, so an explicit default port in Host (example.com:443) compares equal.
  const own = `${from.protocol}//${host}`;
  return URL.canParse(own) && new URL(own).host === from.host;
}
