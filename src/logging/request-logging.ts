import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { principalOf } from '../access/principal';
import { runWithRequestId } from './request-id';

/** Probes and scrapes come every few seconds: they get no request log line of their own. */
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * Request logging as two Fastify hooks rather than Nest middleware (which on Fastify runs through
 * @fastify/middie and pino-http, a large share of a small request's CPU): every line logged while
 * handling a request carries `reqId` (and a job it queues carries it too), and each request ends with one `request completed` line.
 */
export function logRequests(fastify: FastifyInstance, pino: PinoLogger): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    runWithRequestId(request.id, () => pino.runInContext(done, { bindings: { reqId: request.id } }));
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!QUIET_PATHS.test(request.url)) {
      const principal = principalOf(request);
      const line = {
        reqId: request.id,
        ...(principal ? { key_id: principal.keyId, team: principal.team } : {}),
        req: request,
        res: reply.raw,
        responseTime: Math.round(reply.elapsedTime),
      };
      if (reply.statusCode >= 500) {
        PinoLogger.root.error(line, 'request completed');
      } else {
        PinoLogger.root.info(line, 'request completed');
      }
    }
    done();
  });
}
