'use strict';
/*
 * Baseline of the "write" scenario: the floor under POST /api/v1/process (JSON, no payload).
 * Bare Fastify + pg (pool of 10, as the service) + BullMQ: validate the body with a JSON schema,
 * expand the plan, INSERT the row with the same columns as the service's insert (directly as
 * queued, a prepared statement as the service's), add the job to the same queue with the same
 * options, answer 202 with the same JSON.
 * Reads PORT, DATABASE_URL, REDIS_URL, REDIS_PREFIX (JOB_ATTEMPTS, JOB_BACKOFF_MS as the service);
 * prints "listening" when ready.
 */
const { createHash, randomUUID } = require('node:crypto');
const Fastify = require('fastify');
const { Pool } = require('pg');
const { Queue } = require('bullmq');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const queue = new Queue('objects', {
  connection: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', enableOfflineQueue: false },
  prefix: process.env.REDIS_PREFIX,
  defaultJobOptions: {
    attempts: Number(process.env.JOB_ATTEMPTS ?? 5),
    backoff: { type: 'exponential', delay: Number(process.env.JOB_BACKOFF_MS ?? 1000) },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: false,
  },
});
const app = Fastify({ logger: false });

const DEPENDS_ON = { validate: [], transform: ['validate'], enrich: ['transform'], analyze: ['enrich'], export: ['analyze'], thumbnail: ['validate'] };

/** The requested operations with their dependencies, dependencies first. */
function planFor(operations) {
  const plan = [];
  const visit = (operation) => {
    if (plan.includes(operation)) return;
    DEPENDS_ON[operation].forEach(visit);
    plan.push(operation);
  };
  operations.forEach(visit);
  return plan;
}

const bodySchema = {
  type: 'object',
  required: ['identifier', 'operations'],
  properties: {
    identifier: { type: 'string', pattern: '^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._-]{1,200}$' },
    operations: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', enum: Object.keys(DEPENDS_ON) } },
    payload: {},
    metadata: { type: 'object' },
    options: { type: 'object' },
    priority: { type: 'integer', minimum: 1, maximum: 10 },
  },
};

const INSERT = `insert into processing_objects
  (id, identifier, operations, plan, metadata, options, priority, idempotency_key, request_hash, state, current_operation, progress,
   operations_status, s3_artifacts, error_message, error_code, task_id, source, attempts, version, created_at, updated_at, started_at, finished_at)
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', null, $10, '{}', '{}', null, null, $11, null, 1, 1, now(), now(), null, null)`;

app.post('/api/v1/process', { schema: { body: bodySchema } }, async (request, reply) => {
  const body = request.body;
  const operations = [...new Set(body.operations)];
  const plan = planFor(operations);
  const id = randomUUID();
  const taskId = `${id}.1`;
  const priority = body.priority ?? 5;
  const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  try {
    await pool.query({
      name: 'insert-object',
      text: INSERT,
      values: [
        id,
        body.identifier,
        JSON.stringify(operations),
        JSON.stringify(plan),
        JSON.stringify(body.metadata ?? {}),
        JSON.stringify(body.options ?? {}),
        priority,
        request.headers['idempotency-key'] ?? null,
        requestHash,
        JSON.stringify({ current: 0, total: plan.length, message: 'Queued for processing' }),
        taskId,
      ],
    });
  } catch (error) {
    if (error.code === '23505') {
      return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `Identifier '${body.identifier}' is taken`, code: 'identifier_taken' });
    }
    throw error;
  }
  await queue.add('process-object', { objectId: id }, { jobId: taskId, priority: 11 - priority });
  reply.code(202);
  return { id, identifier: body.identifier, state: 'queued', task_id: taskId, message: 'Object queued for processing' };
});

async function main() {
  await queue.waitUntilReady();
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  console.log('listening');
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    app
      .close()
      .then(() => Promise.all([pool.end(), queue.close()]))
      .finally(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
