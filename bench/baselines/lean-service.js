'use strict';
/*
 * Baseline of the "write", "pipeline" and "read" workloads (bench/lib/workloads.js): the leanest honest
 * implementation of what a user of the service sees, not of the service's internal steps. Bare Fastify + pg
 * (pool of 10, as the service's) + BullMQ + @aws-sdk/client-s3 + ioredis, one table of its own (`lean_objects`,
 * the payload inline in a jsonb column), one queue of its own (`lean-objects`, same prefix and job options).
 *
 *   POST /api/v1/process        JSON-schema validated body {identifier, operations, payload?, metadata?, priority?};
 *                               the plan expanded; one INSERT of the row with the payload inline (409 on a taken
 *                               identifier); one job added; 202 with the service's JSON shape.
 *   GET  /api/v1/progress/:id   one SELECT by primary key; the service's progress JSON shape.
 *   worker                      per job: one UPDATE … RETURNING to processing (and one PUBLISH); per operation the
 *                               service's content (bench/baselines/json-operations.js), its files and its
 *                               <operation>_result.json PUT to S3 under <identifier>/, then one UPDATE recording it
 *                               (status, artifact, progress, next operation; the last one also completes the row)
 *                               and one PUBLISH of the progress JSON on Redis. A cancel (row no longer processing)
 *                               stops the plan.
 *
 * LEAN_ROLE: api, worker or all (both in one process, as the service's APP_ROLE=all). LEAN_API_KEY, when set, is
 * required as "Authorization: Bearer <key>" (compared by SHA-256, in memory: the floor under an API key check).
 * Reads PORT, DATABASE_URL, REDIS_URL, REDIS_PREFIX, S3_* / AWS_*, MAX_PARALLEL_WORKERS (3), JOB_ATTEMPTS,
 * JOB_BACKOFF_MS; prints "ready" once it serves.
 */
const { createHash, randomUUID, timingSafeEqual } = require('node:crypto');
const Fastify = require('fastify');
const { Pool } = require('pg');
const { Queue, Worker } = require('bullmq');
const { Redis } = require('ioredis');
const { S3Client, GetObjectCommand, PutObjectCommand, CreateBucketCommand } = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');
const { jsonOperations } = require('./json-operations');

const role = process.env.LEAN_ROLE ?? 'all';
const runsApi = role === 'api' || role === 'all';
const runsWorker = role === 'worker' || role === 'all';
const QUEUE = 'lean-objects';
const concurrency = Number(process.env.MAX_PARALLEL_WORKERS ?? 3);
const prefix = process.env.REDIS_PREFIX;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const bucket = process.env.S3_BUCKET;
const presignExpires = Number(process.env.S3_PRESIGN_EXPIRES_SECONDS ?? 3600);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const query = (name, text, values) => pool.query({ name, text, values });

const DEPENDS_ON = { validate: [], transform: ['validate'], enrich: ['transform'], analyze: ['enrich'], export: ['analyze'] };
const NOT_STARTED = { completed: false, s3_url: null, started_at: null, finished_at: null, duration_ms: null, attempts: 0, error: null };

const SCHEMA = `create table if not exists lean_objects (
  id uuid primary key, identifier text not null unique, state text not null, plan jsonb not null, payload jsonb,
  metadata jsonb not null, priority int not null, current_operation text, progress jsonb not null,
  operations_status jsonb not null default '{}', s3_artifacts jsonb not null default '{}', error_message text,
  created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
  started_at timestamptz, finished_at timestamptz)`;

// ------------------------------------------------------------------------------------------------ API

/** The requested operations with their dependencies, dependencies first. */
function planFor(operations) {
  const plan = [];
  const visit = (operation) => {
    if (plan.includes(operation)) {
      return;
    }
    DEPENDS_ON[operation].forEach(visit);
    plan.push(operation);
  };
  operations.forEach(visit);
  return plan;
}

const submissionSchema = {
  type: 'object',
  required: ['identifier', 'operations'],
  properties: {
    identifier: { type: 'string', pattern: '^(?!\\.)(?!.*\\.\\.)[A-Za-z0-9._-]{1,200}$' },
    operations: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', enum: Object.keys(DEPENDS_ON) } },
    payload: {},
    metadata: { type: 'object' },
    priority: { type: 'integer', minimum: 1, maximum: 10 },
  },
};

const INSERT = `insert into lean_objects (id, identifier, state, plan, payload, metadata, priority, progress)
  values ($1, $2, 'queued', $3, $4, $5, $6, $7)`;
const SELECT_PROGRESS = `select id, identifier, state, current_operation, progress, plan, operations_status, s3_artifacts, error_message
  from lean_objects where id = $1`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function progressView(row) {
  return {
    id: row.id,
    identifier: row.identifier,
    state: row.state,
    current_operation: row.current_operation,
    progress: row.progress,
    operations_status: Object.fromEntries(
      row.plan.map((operation) => [operation, { ...NOT_STARTED, ...row.operations_status[operation] }]),
    ),
    s3_artifacts: row.s3_artifacts,
    error_message: row.error_message,
  };
}

function buildApi(queue) {
  const app = Fastify({ logger: false });
  const keyHash = process.env.LEAN_API_KEY ? createHash('sha256').update(process.env.LEAN_API_KEY).digest() : null;
  if (keyHash) {
    app.addHook('onRequest', async (request, reply) => {
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!token || !timingSafeEqual(createHash('sha256').update(token).digest(), keyHash)) {
        return reply
          .code(401)
          .send({ statusCode: 401, error: 'Unauthorized', message: 'A valid API key is required', code: 'unauthorized' });
      }
    });
  }

  app.post('/api/v1/process', { schema: { body: submissionSchema } }, async (request, reply) => {
    const body = request.body;
    const plan = planFor([...new Set(body.operations)]);
    const id = randomUUID();
    const taskId = `${id}.1`;
    const priority = body.priority ?? 5;
    try {
      await query('lean-insert', INSERT, [
        id,
        body.identifier,
        JSON.stringify(plan),
        body.payload === undefined ? null : JSON.stringify(body.payload),
        JSON.stringify(body.metadata ?? {}),
        priority,
        JSON.stringify({ current: 0, total: plan.length, message: 'Queued for processing' }),
      ]);
    } catch (error) {
      if (error.code === '23505') {
        return reply
          .code(409)
          .send({ statusCode: 409, error: 'Conflict', message: `Identifier '${body.identifier}' is taken`, code: 'identifier_taken' });
      }
      throw error;
    }
    await queue.add('process-object', { objectId: id }, { jobId: taskId, priority: 11 - priority });
    reply.code(202);
    return { id, identifier: body.identifier, state: 'queued', task_id: taskId, message: 'Object queued for processing' };
  });

  app.get('/api/v1/progress/:object_id', async (request, reply) => {
    const id = request.params.object_id;
    if (!UUID.test(id)) {
      return reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', message: 'object_id must be a UUID', code: 'validation_failed' });
    }
    const { rows } = await query('lean-progress', SELECT_PROGRESS, [id]);
    if (!rows[0]) {
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `Object ${id} not found`, code: 'object_not_found' });
    }
    return progressView(rows[0]);
  });
  return app;
}

// ------------------------------------------------------------------------------------------------ worker

const START = `update lean_objects
  set state = 'processing', updated_at = now(), started_at = coalesce(started_at, now()), current_operation = plan ->> 0,
      progress = jsonb_set(progress, '{message}', to_jsonb('Executing ' || (plan ->> 0)))
  where id = $1 and state in ('queued', 'processing')
  returning id, identifier, state, current_operation, progress, plan, operations_status, s3_artifacts, error_message, payload, metadata, created_at`;

/** One operation recorded: its status and artifact, progress, the next operation; the last one completes the row. */
const RECORDED = `update lean_objects
  set updated_at = now(), current_operation = $3,
      operations_status = operations_status || jsonb_build_object($2::text, $4::jsonb),
      s3_artifacts = s3_artifacts || jsonb_build_object($2::text, $5::text),
      progress = $6::jsonb,
      state = case when $3::text is null then 'completed' else state end,
      finished_at = case when $3::text is null then now() else finished_at end
  where id = $1 and state = 'processing'
  returning id, identifier, state, current_operation, progress, plan, operations_status, s3_artifacts, error_message`;

function buildWorker() {
  const s3 = new S3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: process.env.S3_REGION ?? 'us-east-1',
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
    credentials: process.env.AWS_ACCESS_KEY_ID
      ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY }
      : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
  const publisher = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const channel = `${prefix}:lean-progress`;
  const s3Url = (key) => `s3://${bucket}/${key}`;
  const put = async (key, body, contentType) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length }));
    return { s3Url: s3Url(key), size: body.length };
  };
  const presign = async (url) => {
    const key = url.slice(`s3://${bucket}/`.length);
    return {
      key,
      url: await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: presignExpires }),
      expiresAt: new Date(Date.now() + presignExpires * 1000),
    };
  };
  const operations = jsonOperations({ presign });
  // Published without waiting for Redis's reply: ioredis sends them in order on one connection, and the row is the record.
  const publish = (row) =>
    publisher.publish(channel, JSON.stringify(progressView(row))).catch((error) => console.error(`publish failed: ${error.message}`));

  async function processJob(job) {
    const { rows } = await query('lean-start', START, [job.data.objectId]);
    if (!rows[0]) {
      return 'skipped';
    }
    let row = rows[0];
    publish(row);
    const sourceBytes = Buffer.from(JSON.stringify(row.payload));
    const state = {
      id: row.id,
      identifier: row.identifier,
      plan: row.plan,
      statuses: row.operations_status,
      metadata: row.metadata,
      createdAt: row.created_at,
      sourceBytes,
      document: row.payload,
      results: {},
    };
    for (const [index, operation] of state.plan.entries()) {
      const startedAt = new Date();
      const produced = operations[operation](state);
      const files = await Promise.all(
        (produced.files ?? []).map(([name, body, type]) => put(`${state.identifier}/${operation}/${name}`, body, type)),
      );
      const result = typeof produced.result === 'function' ? await produced.result(files) : produced.result;
      state.results[operation] = result;
      const stored = await put(
        `${state.identifier}/${operation}_result.json`,
        Buffer.from(JSON.stringify(result, null, 2)),
        'application/json',
      );
      const finishedAt = new Date();
      const status = {
        completed: true,
        s3_url: stored.s3Url,
        started_at: startedAt.toISOString(),
        finished_at: finishedAt.toISOString(),
        duration_ms: finishedAt.getTime() - startedAt.getTime(),
        attempts: (state.statuses[operation]?.attempts ?? 0) + 1,
        error: null,
        files: files.map((file) => file.s3Url),
      };
      state.statuses[operation] = status;
      const next = state.plan[index + 1] ?? null;
      const progress = { current: index + 1, total: state.plan.length, message: next ? `Executing ${next}` : 'Completed' };
      const recorded = await query('lean-recorded', RECORDED, [
        state.id,
        operation,
        next,
        JSON.stringify(status),
        stored.s3Url,
        JSON.stringify(progress),
      ]);
      if (!recorded.rows[0]) {
        return 'cancelled';
      }
      row = recorded.rows[0];
      publish(row);
    }
    return 'completed';
  }

  const worker = new Worker(QUEUE, processJob, {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    prefix,
    concurrency,
    autorun: false,
  });
  worker.on('error', (error) => console.error(`worker error: ${error.message}`));
  return {
    async start() {
      await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((error) => {
        if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(error.name)) {
          throw error;
        }
      });
      // The same global limit the service's worker sets on its queue.
      const queue = new Queue(QUEUE, { connection: { url: redisUrl }, prefix });
      await queue.setGlobalConcurrency(concurrency);
      await queue.close();
      void worker.run();
      await worker.waitUntilReady();
    },
    close: () => worker.close().then(() => publisher.quit()),
  };
}

// ------------------------------------------------------------------------------------------------ process

async function main() {
  await pool.query(SCHEMA);
  const closers = [];
  if (runsWorker) {
    const worker = buildWorker();
    await worker.start();
    closers.push(() => worker.close());
  }
  if (runsApi) {
    const queue = new Queue(QUEUE, {
      connection: { url: redisUrl, enableOfflineQueue: false },
      prefix,
      defaultJobOptions: {
        attempts: Number(process.env.JOB_ATTEMPTS ?? 5),
        backoff: { type: 'exponential', delay: Number(process.env.JOB_BACKOFF_MS ?? 1000) },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: false,
      },
    });
    await queue.waitUntilReady();
    const app = buildApi(queue);
    await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
    closers.unshift(() => app.close().then(() => queue.close()));
  }
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, () => {
      closers
        .reduce((done, close) => done.then(close), Promise.resolve())
        .then(() => pool.end())
        .then(
          () => process.exit(0),
          (error) => {
            console.error(`shutdown: ${error.message}`);
            process.exit(1);
          },
        );
    });
  }
  console.log('ready');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
