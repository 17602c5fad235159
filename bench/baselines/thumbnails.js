'use strict';
/*
 * Baseline of the "thumbnails" scenario: the floor under the thumbnail operation.
 * Bare sharp + the AWS SDK, no database, no queue: for each source key, GET the bytes from S3,
 * make the 100x100, 300x300 and 1200x1200 thumbnails (fit inside, no enlargement, auto-oriented,
 * WebP with sharp's defaults, as the service) and PUT each to `<prefix><n>/thumbnail/<w>x<h>.webp`,
 * BENCH_CONCURRENCY images at a time (the service's MAX_PARALLEL_WORKERS).
 * Reads S3_* / AWS_* / S3_BUCKET, BENCH_SOURCES (a JSON file listing the keys), BENCH_OUTPUT_PREFIX,
 * BENCH_BASELINE_MODE (one-decode, default, or per-size), BENCH_RESULT (where to write { firstStart, lastFinish, cpuMs, images, sizes, sharp }).
 */
const fs = require('node:fs');
const { S3Client, GetObjectCommand, PutObjectCommand } = require('@aws-sdk/client-s3');
const sharp = require('sharp');

const SIZES = [
  [100, 100],
  [300, 300],
  [1200, 1200],
];
const bucket = process.env.S3_BUCKET;
const ONE_DECODE = (process.env.BENCH_BASELINE_MODE ?? 'one-decode') === 'one-decode';
const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.S3_REGION ?? 'us-east-1',
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  maxAttempts: 3,
});

async function thumbnails(key, index) {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const source = Buffer.from(await response.Body.transformToByteArray());
  const made = [];
  // one-decode (default): decode once into the 1200 box and resize the others from it, as the service does; per-size: one pipeline per size.
  const largest = ONE_DECODE
    ? await sharp(source, { failOn: 'warning' })
        .autoOrient()
        .resize(1200, 1200, { fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true })
    : null;
  for (const [width, height] of SIZES) {
    const input = largest
      ? sharp(largest.data, { raw: { width: largest.info.width, height: largest.info.height, channels: largest.info.channels } })
      : sharp(source, { failOn: 'warning' }).autoOrient();
    const { data, info } = await input
      .resize(width, height, { fit: 'inside', withoutEnlargement: true })
      .webp()
      .toBuffer({ resolveWithObject: true });
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${process.env.BENCH_OUTPUT_PREFIX}${index}/thumbnail/${width}x${height}.webp`,
        Body: data,
        ContentType: 'image/webp',
        ContentLength: data.length,
      }),
    );
    made.push([info.width, info.height]);
  }
  return made;
}

async function main() {
  const keys = JSON.parse(fs.readFileSync(process.env.BENCH_SOURCES, 'utf8'));
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 3);
  const sizes = new Array(keys.length);
  let next = 0;
  const firstStart = Date.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keys.length) {
        const index = next++;
        sizes[index] = await thumbnails(keys[index], index);
      }
    }),
  );
  const lastFinish = Date.now();
  const cpu = process.cpuUsage(cpuBefore);
  fs.writeFileSync(
    process.env.BENCH_RESULT,
    JSON.stringify({
      firstStart,
      lastFinish,
      cpuMs: (cpu.user + cpu.system) / 1000,
      images: keys.length,
      sizes,
      sharp: { concurrency: sharp.concurrency(), cache: sharp.cache(), versions: sharp.versions },
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
