import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';

type Directives = Record<string, string[]>;

/**
 * Every page this service serves loads only its own scripts and styles, talks only to this service and may
 * be framed by nobody: /ui, and the JSON answers (for which a policy is inert but harmless).
 * No upgrade-insecure-requests: the service is often reached over plain HTTP behind an ingress.
 */
const PAGE_DIRECTIVES: Directives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** Swagger UI (/docs) writes inline <style> blocks and style attributes; its scripts are files of its own. */
const DOCS_DIRECTIVES: Directives = { ...PAGE_DIRECTIVES, 'style-src': ["'self'", "'unsafe-inline'"] };

/** Bull Board sets <base href>, inline styles, and loads its fonts from Google Fonts. */
const QUEUE_DASHBOARD_DIRECTIVES: Directives = {
  ...PAGE_DIRECTIVES,
  'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
  'font-src': ["'self'", 'https://fonts.gstatic.com'],
  'base-uri': ["'self'"],
};

function helmetOptions(directives: Directives, hstsMaxAgeSeconds: number): HelmetOptions {
  return {
    contentSecurityPolicy: { useDefaults: false, directives },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS only where the deployment says every client reaches it over HTTPS: sent over plain HTTP it is
    // ignored, and a wrong one locks browsers out of the host for max-age.
    strictTransportSecurity: hstsMaxAgeSeconds > 0 ? { maxAge: hstsMaxAgeSeconds, includeSubDomains: false } : false,
  };
}

/**
 * Security headers (helmet's set: nosniff, X-Frame-Options DENY, a Content-Security-Policy with
 * frame-ancestors 'none', Referrer-Policy, Cross-Origin-*-Policy, …) on every response Fastify sends:
 * API answers, errors, 404s, probes, /metrics, /docs, /ui and Bull Board. /docs and the queue dashboard get
 * the same policy loosened as far as their pages need, nothing more. The headers never vary per request, so
 * helmet computes each set once, at start; a request only has them set (@fastify/helmet builds helmet's
 * middleware anew for every request, a measurable part of a fast request's CPU). They are set on the reply,
 * which Node checks once as it writes the head, rather than on the raw response, which checks each name and
 * value as it is set and again as it merges the reply's own headers in (about 10 µs a request). A stream that
 * writes its own head (progress-stream.ts) takes them from reply.getHeaders().
 */
export function registerSecurityHeaders(fastify: FastifyInstance, config: AppConfig): void {
  const headersWith = (directives: Directives) => Object.fromEntries(headersOf(helmetOptions(directives, config.hstsMaxAgeSeconds)));
  const everywhere = headersWith(PAGE_DIRECTIVES);
  const loosened: [string, Record<string, string>][] = [['/docs', headersWith(DOCS_DIRECTIVES)]];
  if (config.bullBoard) {
    loosened.push([config.bullBoard.path, headersWith(QUEUE_DASHBOARD_DIRECTIVES)]);
  }
  fastify.addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?', 1)[0] ?? '';
    const headers = loosened.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`))?.[1] ?? everywhere;
    void reply.headers(headers);
    done();
  });
}

/** The headers helmet sets with `options`, as name/value pairs: what it sets on a stand-in response. */
function headersOf(options: HelmetOptions): [string, string][] {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- helmet's next() types its error as unknown; String() is the best message a non-Error has
      throw error instanceof Error ? error : new Error(String(error));
    }
  });
  return [...headers];
}

/**
 * The same headers, for the answers written before Fastify has a request (malformed HTTP, request timeouts,
 * refused upgrades). Without HSTS, which a browser takes from any proper response.
 */
export const RAW_ANSWER_SECURITY_HEADERS: readonly [string, string][] = headersOf(helmetOptions(PAGE_DIRECTIVES, 0));
