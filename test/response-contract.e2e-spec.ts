import Fastify, { type FastifyInstance } from 'fastify';
import { ResponseContract } from './support/response-contract';

const OBJECT_ID = '550e8400-e29b-41d4-a716-446655440000';

/**
 * The check every test app runs on its responses (test/support/response-contract.ts) finds what
 * breaks the committed contract: here a bare Fastify answers on the documented routes, rightly and wrongly.
 */
describe('response validation against the committed contract', () => {
  let fastify: FastifyInstance;
  let contract: ResponseContract;

  beforeEach(() => {
    fastify = Fastify();
    contract = new ResponseContract();
    contract.install(fastify);
  });

  afterEach(async () => {
    await fastify.close();
  });

  const problems = () => contract.violations.map((violation) => `${violation.request} ${violation.status}: ${violation.problem}`);

  it('accepts documented answers: a body of the documented schema, the error shape, an empty 204', async () => {
    fastify.get('/api/v1/status', () =>
      Promise.resolve({
        queue_size: 0,
        active_workers: 0,
        max_workers: 3,
        worker_processes: 1,
        dead_letters: 0,
        objects_by_state: {},
        pause: { paused: false, mode: null, reason: null, since: null, paused_by_key_id: null, paused_by_key_name: null },
        retention: { enabled: false, max_age_seconds: null, next_run_at: null, next_run_count: null },
      }),
    );
    fastify.get('/api/v1/progress/:object_id', async (_request, reply) =>
      reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Object ${OBJECT_ID} not found`, code: 'object_not_found' }),
    );
    fastify.delete('/api/v1/objects/:object', async (_request, reply) => reply.code(204).send());
    await fastify.inject({ method: 'GET', url: '/api/v1/status' });
    await fastify.inject({ method: 'GET', url: `/api/v1/progress/${OBJECT_ID}` });
    await fastify.inject({ method: 'DELETE', url: '/api/v1/objects/object-123' });
    expect(problems()).toEqual([]);
  });

  it('records a body that breaks the schema, an undocumented status, an error outside the one shape, and a body on a 204', async () => {
    fastify.get('/api/v1/status', () => Promise.resolve({ queue_size: 'many' }));
    fastify.post('/api/v1/objects/:object_id/cancel', async (_request, reply) => reply.code(418).send({ statusCode: 418 }));
    fastify.get('/api/v1/not-documented', async (_request, reply) => reply.code(400).send({ message: 'bad' }));
    fastify.delete('/api/v1/objects/:object', async (_request, reply) =>
      reply.code(204).header('content-type', 'application/json').send('{"deleted":true}'),
    );
    await fastify.inject({ method: 'GET', url: '/api/v1/status' });
    await fastify.inject({ method: 'POST', url: `/api/v1/objects/${OBJECT_ID}/cancel` });
    await fastify.inject({ method: 'GET', url: '/api/v1/not-documented' });
    await fastify.inject({ method: 'DELETE', url: '/api/v1/objects/object-123' });
    expect(problems()).toEqual([
      expect.stringMatching(/^GET \/api\/v1\/status 200: .*queue_size must be number/),
      `POST /api/v1/objects/${OBJECT_ID}/cancel 418: status 418 is not documented for POST /api/v1/objects/{object_id}/cancel`,
      expect.stringMatching(/^GET \/api\/v1\/not-documented 400: .*must have required property/),
      expect.stringMatching(/^DELETE \/api\/v1\/objects\/object-123 204: documented without content/),
    ]);
  });
});
