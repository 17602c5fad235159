'use strict';
/*
 * Baseline of the large scenario: the leanest streaming CSV → NDJSON conversion of an object in S3,
 * as its own process. S3 GetObject of the source → csv-parse (the options the service's csvRecords
 * uses) → the same typed records (the service's inferScalar rules) → NDJSON → @aws-sdk/lib-storage
 * Upload (the service's part size and queue size) back to the same s3rver.
 *
 * Settings come from the environment: S3_* like the service, BASELINE_SOURCE_KEY, BASELINE_TARGET_KEY,
 * BASELINE_DELIMITER, BASELINE_PART_SIZE, BASELINE_QUEUE_SIZE, BASELINE_RESULT (a JSON file written at the end).
 */
const fs = require('node:fs');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');
const { parse } = require('csv-parse');

const env = process.env;
const client = new S3Client({
  endpoint: env.S3_ENDPOINT,
  region: env.S3_REGION ?? 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  maxAttempts: 3,
});

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;
function inferScalar(cell) {
  if (cell === '') {
    return null;
  }
  const lower = cell.toLowerCase();
  if (lower === 'true') {
    return true;
  }
  if (lower === 'false') {
    return false;
  }
  if (NUMBER.test(cell)) {
    const value = Number(cell);
    if (Number.isFinite(value) && (!INTEGER.test(cell) || Number.isSafeInteger(value))) {
      return value;
    }
  }
  return cell;
}

// Lines are gathered into chunks of about 64 KiB: one Buffer per record would cost the uploader more than the conversion.
function ndjson() {
  let columns = null;
  let pending = '';
  let records = 0;
  const stream = new Transform({
    writableObjectMode: true,
    transform(row, _encoding, done) {
      if (columns === null) {
        columns = row.map((cell) => cell.trim());
        return done();
      }
      const record = {};
      for (let index = 0; index < columns.length; index++) {
        record[columns[index]] = inferScalar(row[index] ?? '');
      }
      pending += `${JSON.stringify(record)}\n`;
      records++;
      if (pending.length >= 65536) {
        const chunk = pending;
        pending = '';
        return done(null, chunk);
      }
      done();
    },
    flush(done) {
      done(null, pending || undefined);
    },
  });
  stream.records = () => records;
  return stream;
}

async function main() {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const source = await client.send(new GetObjectCommand({ Bucket: env.S3_BUCKET, Key: env.BASELINE_SOURCE_KEY }));
  const converter = ndjson();
  let bytesOut = 0;
  const counted = new Transform({
    transform(chunk, _encoding, done) {
      bytesOut += chunk.length;
      done(null, chunk);
    },
  });
  const upload = new Upload({
    client,
    params: { Bucket: env.S3_BUCKET, Key: env.BASELINE_TARGET_KEY, Body: counted, ContentType: 'application/x-ndjson' },
    partSize: Number(env.BASELINE_PART_SIZE),
    queueSize: Number(env.BASELINE_QUEUE_SIZE),
  });
  await Promise.all([
    pipeline(source.Body, parse({ delimiter: env.BASELINE_DELIMITER ?? ',', bom: true, skip_empty_lines: true }), converter, counted),
    upload.done(),
  ]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuUsed = process.cpuUsage(cpu);
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  const result = {
    ms,
    cpu_ms: (cpuUsed.user + cpuUsed.system) / 1000,
    records: converter.records(),
    bytes_in: Number(source.ContentLength),
    bytes_out: bytesOut,
    peak_rss_bytes: hwmKb * 1024,
  };
  fs.writeFileSync(env.BASELINE_RESULT, JSON.stringify(result));
  client.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
