'use strict';
/*
 * Baseline of the "pipeline" scenario: the floor under the service's worker for small JSON objects.
 * A bare BullMQ Worker (same queue, prefix, concurrency and global limit as the service's worker) with
 * pg (pool of 10, as MikroORM's in the service) and @aws-sdk/client-s3 (same client settings). Per job:
 *
 *   - one UPDATE … RETURNING moves the row to processing and returns what the job needs
 *     (a job delivered again for a processing row resumes it; a stale task id or settled row is skipped);
 *   - one GET of the source from S3, parsed once and kept in memory for the whole plan;
 *   - per operation not yet completed: an UPDATE marking it started (current_operation, operations_status,
 *     progress message), the computation, PUTs of its files and its <operation>_result.json, and an UPDATE
 *     recording it finished (operations_status, s3_artifacts, progress.current). Every UPDATE is
 *     conditional on state = 'processing', so a cancel wins;
 *   - one UPDATE to completed.
 * Every statement is a prepared (named) one, as the service's are.
 *
 * It writes the same artifacts as the service (same keys, same JSON shapes, about the same sizes):
 * validate/enrich/analyze/export results, transform/records.ndjson, export/records.ndjson and a manifest
 * with presigned URLs. Field statistics use the service's own FieldStatistics class (dist/) so the
 * computation is the same; only the orchestration differs. What it leaves out is what the comparison
 * prices: no object_events rows, no Redis pub/sub, no per-operation re-reads of earlier results from S3,
 * no ORM, no logging per job.
 *
 * Reads DATABASE_URL, REDIS_URL, REDIS_PREFIX, S3_* / AWS_*, MAX_PARALLEL_WORKERS; prints "ready".
 */
const path = require('node:path');
const { createHash } = require('node:crypto');
const { Pool } = require('pg');
const { Worker, Queue } = require('bullmq');
const { S3Client, GetObjectCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');

const DIST = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { FieldStatistics } = require(path.join(DIST, 'operations', 'content', 'field-statistics.js'));
const { SERVICE_NAME, SERVICE_VERSION } = require(path.join(DIST, 'common', 'service-info.js'));

const concurrency = Number(process.env.MAX_PARALLEL_WORKERS ?? 3);
const bucket = process.env.S3_BUCKET;
const presignExpires = Number(process.env.S3_PRESIGN_EXPIRES_SECONDS ?? 3600);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const s3 = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.S3_REGION ?? 'us-east-1',
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
  credentials: process.env.AWS_ACCESS_KEY_ID ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY } : undefined,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  maxAttempts: 3,
});
const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', maxRetriesPerRequest: null };
const prefix = process.env.REDIS_PREFIX;

const s3Url = (key) => `s3://${bucket}/${key}`;
const keyOf = (url) => url.slice(`s3://${bucket}/`.length);

async function getBuffer(key, signal) {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  return Buffer.from(await response.Body.transformToByteArray());
}

async function put(key, body, contentType) {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentLength: body.length }));
  return { key, s3Url: s3Url(key), size: body.length };
}

const putJson = (key, value) => put(key, Buffer.from(JSON.stringify(value, null, 2)), 'application/json');

async function presign(key) {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: presignExpires });
  return { url, expiresAt: new Date(Date.now() + presignExpires * 1000) };
}

const START = `update processing_objects
  set state = 'processing', version = version + 1, updated_at = now(), started_at = coalesce(started_at, now()),
      progress = jsonb_set(progress, '{message}', to_jsonb('Processing'::text))
  where id = $1 and task_id = $2 and state in ('queued', 'processing')
  returning identifier, plan, operations_status, source, metadata, created_at`;

const OPERATION_STARTED = `update processing_objects
  set version = version + 1, updated_at = now(), current_operation = $2,
      progress = jsonb_set(progress, '{message}', to_jsonb($3::text)),
      operations_status = jsonb_set(operations_status, array[$2::text], coalesce(operations_status -> $2::text, '{}'::jsonb) || $4::jsonb)
  where id = $1 and state = 'processing'`;

const OPERATION_FINISHED = `update processing_objects
  set version = version + 1, updated_at = now(),
      s3_artifacts = s3_artifacts || jsonb_build_object($2::text, $5::text),
      progress = jsonb_set(jsonb_set(progress, '{current}', to_jsonb((select count(*) from jsonb_object_keys(s3_artifacts || jsonb_build_object($2::text, $5::text))))), '{message}', to_jsonb($3::text)),
      operations_status = jsonb_set(operations_status, array[$2::text], coalesce(operations_status -> $2::text, '{}'::jsonb) || $4::jsonb)
  where id = $1 and state = 'processing'`;

const COMPLETED = `update processing_objects
  set state = 'completed', version = version + 1, updated_at = now(), current_operation = null, finished_at = now(),
      progress = jsonb_set(progress, '{message}', to_jsonb('Completed'::text))
  where id = $1 and state = 'processing'`;

class Cancelled extends Error {}

/** Every statement is prepared (named), as the service's are: each connection plans it once. */
const STATEMENT_NAMES = new Map([
  [START, 'start'],
  [OPERATION_STARTED, 'operation-started'],
  [OPERATION_FINISHED, 'operation-finished'],
  [COMPLETED, 'completed'],
]);
const prepared = (sql, params) => pool.query({ name: STATEMENT_NAMES.get(sql), text: sql, values: params });

async function update(sql, params) {
  const result = await prepared(sql, params);
  if (result.rowCount !== 1) throw new Cancelled();
}

function typeOf(value) {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const asRecord = (item) => (typeof item === 'object' && item !== null && !Array.isArray(item) ? item : { value: item });

/** The plan's operations on JSON content, each returning { result, files } from what earlier ones produced. */
const OPERATIONS = {
  validate(state) {
    const { source, sourceBytes, document } = state;
    return {
      result: {
        valid: true,
        content_type: 'application/json',
        declared_content_type: source.content_type,
        kind: 'json',
        size: sourceBytes.length,
        sha256: createHash('sha256').update(sourceBytes).digest('hex'),
        json_kind: Array.isArray(document) ? 'array' : document === null ? 'null' : typeof document === 'object' ? 'object' : typeof document,
        record_count: Array.isArray(document) ? document.length : 1,
        json_schema: 'not_provided',
      },
    };
  },
  // As the service, transform infers the records' schema while writing them, and enrich takes it from its result.
  transform(state) {
    state.records = (Array.isArray(state.document) ? state.document : [state.document]).map(asRecord);
    const body = Buffer.from(state.records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    const fields = new Map();
    for (const record of state.records) {
      for (const [name, value] of Object.entries(record)) {
        const field = fields.get(name) ?? { types: new Set(), presentIn: 0 };
        field.types.add(typeOf(value));
        field.presentIn++;
        fields.set(name, field);
      }
    }
    const schema = [...fields].map(([name, field]) => ({
      name,
      types: [...field.types].filter((type) => type !== 'null').sort(),
      nullable: field.types.has('null') || field.presentIn < state.records.length,
      present_in: field.presentIn,
    }));
    return {
      files: [['records.ndjson', body, 'application/x-ndjson']],
      result: (files) => ({ kind: 'json', format: 'ndjson', file_name: 'records.ndjson', file: files[0].s3Url, bytes: files[0].size, record_count: state.records.length, records_file: files[0].s3Url, schema: { fields: schema } }),
    };
  },
  enrich(state) {
    const schema = state.results.transform.schema.fields;
    const validation = state.results.validate;
    const transform = state.results.transform;
    return {
      result: {
        kind: 'json',
        record_count: state.records.length,
        schema: { fields: schema },
        provenance: {
          object_id: state.id,
          identifier: state.identifier,
          source_sha256: validation.sha256,
          source_size: validation.size,
          content_type: validation.content_type,
          declared_content_type: validation.declared_content_type,
          source_s3_url: state.source.s3_url,
          canonical_file: transform.file,
          canonical_bytes: transform.bytes,
          metadata: state.metadata,
          service: { name: SERVICE_NAME, version: SERVICE_VERSION },
          object_created_at: state.createdAt.toISOString(),
          enriched_at: new Date().toISOString(),
        },
      },
    };
  },
  analyze(state) {
    const statistics = new Map(state.results.enrich.schema.fields.map((field) => [field.name, new FieldStatistics()]));
    for (const record of state.records) {
      for (const [name, fieldStatistics] of statistics) fieldStatistics.add(record[name]);
    }
    return {
      result: { kind: 'json', record_count: state.records.length, fields: Object.fromEntries([...statistics].map(([name, s]) => [name, s.summary()])) },
    };
  },
  export(state) {
    const body = Buffer.from(state.records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    return {
      files: [['records.ndjson', body, 'application/x-ndjson']],
      result: async (files) => {
        const recorded = [{ operation: 'source', s3Url: state.source.s3_url }];
        for (const operation of state.plan) {
          if (state.statuses[operation]?.completed) {
            recorded.push({ operation, s3Url: state.statuses[operation].s3_url });
            (state.statuses[operation].files ?? []).forEach((url) => recorded.push({ operation, s3Url: url }));
          }
        }
        recorded.push(...files.map((file) => ({ operation: 'export', s3Url: file.s3Url })));
        const artifacts = await Promise.all(
          recorded.map(async ({ operation, s3Url: url }) => {
            const { url: signed, expiresAt } = await presign(keyOf(url));
            return { operation, key: keyOf(url), s3_url: url, url: signed, expires_at: expiresAt.toISOString() };
          }),
        );
        return { format: 'ndjson', file: files[0].s3Url, bytes: files[0].size, manifest: { generated_at: new Date().toISOString(), artifacts } };
      },
    };
  },
};

/** What a resumed job needs from an operation that completed in an earlier delivery: its result (and the records). */
async function loadEarlier(state, operation) {
  state.results[operation] = JSON.parse((await getBuffer(`${state.identifier}/${operation}_result.json`)).toString('utf8'));
}

async function processJob(job) {
  const { rows } = await prepared(START, [job.data.objectId, job.id]);
  if (!rows[0]) return 'skipped';
  const row = rows[0];
  const sourceBytes = await getBuffer(keyOf(row.source.s3_url));
  const state = {
    id: job.data.objectId,
    identifier: row.identifier,
    plan: row.plan,
    statuses: row.operations_status,
    source: row.source,
    metadata: row.metadata,
    createdAt: row.created_at,
    sourceBytes,
    document: JSON.parse(sourceBytes.toString('utf8')),
    results: {},
  };
  try {
    for (const operation of state.plan) {
      if (state.statuses[operation]?.completed) {
        await loadEarlier(state, operation);
        if (operation === 'transform') OPERATIONS.transform(state);
        continue;
      }
      const previous = state.statuses[operation]?.attempts ?? 0;
      const startedAt = new Date();
      await update(OPERATION_STARTED, [
        state.id,
        operation,
        `Executing ${operation}`,
        JSON.stringify({ completed: false, started_at: startedAt.toISOString(), attempts: previous + 1, error: null }),
      ]);
      const produced = OPERATIONS[operation](state);
      const files = await Promise.all(
        (produced.files ?? []).map(([name, body, type]) => put(`${state.identifier}/${operation}/${name}`, body, type)),
      );
      const result = typeof produced.result === 'function' ? await produced.result(files) : produced.result;
      state.results[operation] = result;
      const stored = await putJson(`${state.identifier}/${operation}_result.json`, result);
      const finishedAt = new Date();
      const status = {
        finished_at: finishedAt.toISOString(),
        duration_ms: finishedAt.getTime() - startedAt.getTime(),
        completed: true,
        s3_url: stored.s3Url,
        error: null,
        files: files.map((file) => file.s3Url),
      };
      await update(OPERATION_FINISHED, [state.id, operation, `Finished ${operation}`, JSON.stringify(status), stored.s3Url]);
      state.statuses[operation] = { ...state.statuses[operation], ...status };
    }
    await update(COMPLETED, [state.id]);
    return 'completed';
  } catch (error) {
    if (error instanceof Cancelled) return 'cancelled';
    throw error;
  }
}

const worker = new Worker('objects', processJob, { connection, prefix, concurrency, autorun: false });
worker.on('error', (error) => console.error(`worker error: ${error.message}`));

async function main() {
  // The same global limit the service's worker sets on the queue.
  const queue = new Queue('objects', { connection, prefix });
  await queue.setGlobalConcurrency(concurrency);
  await queue.close();
  void worker.run();
  await worker.waitUntilReady();
  console.log('ready');
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    worker
      .close()
      .then(() => pool.end())
      .finally(() => process.exit(0));
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
