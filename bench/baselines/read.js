'use strict';
/*
 * Baseline of the "read" scenario: the floor under GET /api/v1/progress/{id}. Bare Fastify + pg
 * with the service's pool size (10): validate the id, fetch the row by primary key with a prepared
 * statement (as the service), answer the progress JSON of the same shape (every planned operation's
 * status filled with the defaults).
 * Reads PORT and DATABASE_URL; prints "listening" when ready.
 */
const Fastify = require('fastify');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const app = Fastify({ logger: false });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOT_STARTED = { completed: false, s3_url: null, started_at: null, finished_at: null, duration_ms: null, attempts: 0, error: null };
const SELECT = `select id, identifier, state, current_operation, progress, plan, operations_status, s3_artifacts, error_message
  from processing_objects where id = $1`;

app.get('/api/v1/progress/:object_id', async (request, reply) => {
  const id = request.params.object_id;
  if (!UUID.test(id)) {
    return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'object_id must be a UUID', code: 'validation_failed' });
  }
  const { rows } = await pool.query({ name: 'select-progress', text: SELECT, values: [id] });
  const row = rows[0];
  if (!row) {
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Object ${id} not found`, code: 'object_not_found' });
  }
  const operationsStatus = {};
  for (const operation of row.plan) {
    operationsStatus[operation] = { ...NOT_STARTED, ...row.operations_status[operation] };
  }
  return {
    id: row.id,
    identifier: row.identifier,
    state: row.state,
    current_operation: row.current_operation,
    progress: row.progress,
    operations_status: operationsStatus,
    s3_artifacts: row.s3_artifacts,
    error_message: row.error_message,
  };
});

async function main() {
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  console.log('listening');
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    app.close().then(() => pool.end()).finally(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
