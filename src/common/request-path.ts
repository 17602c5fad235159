import type { FastifyRequest } from 'fastify';

/**
 * The path a request reached, as the router saw it: the matched route's pattern, or for an unmatched
 * request its path percent-decoded (the router decodes `/%61pi` to `/api` too, so a check on the raw URL
 * could be stepped around).
 */
export function routedPathOf(request: FastifyRequest): string {
  const route = request.routeOptions.url;
  if (route !== undefined) {
    return route;
  }
  const path = request.url.split('?', 1)[0] ?? '';
  try {
    return decodeURIComponent(path);
  } catch {
    // Not valid percent-encoding: the router refuses it as it is.
    return path;
  }
}
