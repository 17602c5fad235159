'use strict';
/*
 * The content of the service's five JSON operations (validate, transform, enrich, analyze, export), computed the
 * leanest way for the baselines: same result JSON shapes and about the same sizes, statistics by the service's own
 * FieldStatistics (dist/), so both sides compute the same thing and only the orchestration differs.
 *
 * Each operation takes the job's state ({ id, identifier, plan, statuses, metadata, createdAt, sourceBytes,
 * document, results, sourceUrl? }) and returns { result, files }: files as [name, body, contentType], result an
 * object or, when it names its files, a function of the stored files ({ s3Url, size }).
 */
const path = require('node:path');
const { createHash } = require('node:crypto');

const DIST = path.resolve(__dirname, '..', '..', 'dist', 'src');
const { FieldStatistics } = require(path.join(DIST, 'operations', 'content', 'field-statistics.js'));
const { typeOf } = require(path.join(DIST, 'operations', 'content', 'records.js'));
const { SERVICE_NAME, SERVICE_VERSION } = require(path.join(DIST, 'common', 'service-info.js'));

const asRecord = (item) => (typeof item === 'object' && item !== null && !Array.isArray(item) ? item : { value: item });
const ndjson = (records) => Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''));

/** The operations; `presign(s3Url)` → { url, expiresAt } signs the export manifest's links. */
function jsonOperations({ presign }) {
  return {
    validate(state) {
      const { sourceBytes, document } = state;
      return {
        result: {
          valid: true,
          content_type: 'application/json',
          declared_content_type: 'application/json',
          kind: 'json',
          size: sourceBytes.length,
          sha256: createHash('sha256').update(sourceBytes).digest('hex'),
          json_kind: Array.isArray(document)
            ? 'array'
            : document === null
              ? 'null'
              : typeof document === 'object'
                ? 'object'
                : typeof document,
          record_count: Array.isArray(document) ? document.length : 1,
          json_schema: 'not_provided',
        },
      };
    },
    // As the service, transform infers the records' schema while writing them, and enrich takes it from its result.
    transform(state) {
      state.records = (Array.isArray(state.document) ? state.document : [state.document]).map(asRecord);
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
        files: [['records.ndjson', ndjson(state.records), 'application/x-ndjson']],
        result: (files) => ({
          kind: 'json',
          format: 'ndjson',
          file_name: 'records.ndjson',
          file: files[0].s3Url,
          bytes: files[0].size,
          record_count: state.records.length,
          records_file: files[0].s3Url,
          schema: { fields: schema },
        }),
      };
    },
    enrich(state) {
      const validation = state.results.validate;
      const transform = state.results.transform;
      return {
        result: {
          kind: 'json',
          record_count: state.records.length,
          schema: { fields: transform.schema.fields },
          provenance: {
            object_id: state.id,
            identifier: state.identifier,
            source_sha256: validation.sha256,
            source_size: validation.size,
            content_type: validation.content_type,
            declared_content_type: validation.declared_content_type,
            source_s3_url: state.sourceUrl ?? null,
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
        for (const [name, fieldStatistics] of statistics) {
          fieldStatistics.add(record[name]);
        }
      }
      return {
        result: {
          kind: 'json',
          record_count: state.records.length,
          fields: Object.fromEntries([...statistics].map(([name, s]) => [name, s.summary()])),
        },
      };
    },
    export(state) {
      return {
        files: [['records.ndjson', ndjson(state.records), 'application/x-ndjson']],
        result: async (files) => {
          const recorded = state.sourceUrl ? [{ operation: 'source', s3Url: state.sourceUrl }] : [];
          for (const operation of state.plan) {
            if (state.statuses[operation]?.completed) {
              recorded.push({ operation, s3Url: state.statuses[operation].s3_url });
              (state.statuses[operation].files ?? []).forEach((url) => recorded.push({ operation, s3Url: url }));
            }
          }
          recorded.push(...files.map((file) => ({ operation: 'export', s3Url: file.s3Url })));
          const artifacts = await Promise.all(
            recorded.map(async ({ operation, s3Url }) => {
              const { url, expiresAt, key } = await presign(s3Url);
              return { operation, key, s3_url: s3Url, url, expires_at: expiresAt.toISOString() };
            }),
          );
          return {
            format: 'ndjson',
            file: files[0].s3Url,
            bytes: files[0].size,
            manifest: { generated_at: new Date().toISOString(), artifacts },
          };
        },
      };
    },
  };
}

module.exports = { jsonOperations };
