import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { listS3Keys } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { FuzzRequest, KNOWN_IDENTIFIER, KNOWN_OBJECT, OpenApiDocument, requestsFor } from './support/openapi-requests';
import { sendRaw, RawResponse } from './support/raw-http';
import { TestApp, startTestApp } from './support/test-app';

const REQUESTS = 2_400;
const SEED = process.env.TEST_FUZZ_SEED ? Number(process.env.TEST_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);

const document = JSON.parse(readFileSync(join(__dirname, '..', 'openapi', 'openapi.json'), 'utf8')) as OpenApiDocument & {
  components: { schemas: { ErrorResponse: { properties: { code: { enum: string[] } } } } };
};
const DOCUMENTED_CODES = document.components.schemas.ErrorResponse.properties.code.enum;

const BOUNDARY = 'fuzzboundary7MA4YWxkTrZu0gW';

function bodyOf(fuzz: Extract<FuzzRequest, { kind: 'http' }>): { contentType?: string; bytes?: Buffer } {
  const body = fuzz.body;
  if (!body) {
    return {};
  }
  if (body.type === 'json') {
    return { contentType: 'application/json', bytes: Buffer.from(body.text) };
  }
  if (body.type === 'raw') {
    return { contentType: body.contentType, bytes: Buffer.from(body.text) };
  }
  const parts = body.fields.map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  if (body.file) {
    parts.push(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${body.file.name}"; filename="${body.file.filename}"\r\nContent-Type: ${body.file.contentType}\r\n\r\n${body.file.content}\r\n`,
    );
  }
  parts.push(`--${BOUNDARY}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${BOUNDARY}`, bytes: Buffer.from(parts.join('')) };
}

/** Sends the request as it is (no client-side normalisation of the path or method) and reads the whole answer. */
function send(baseUrl: string, fuzz: FuzzRequest): Promise<RawResponse> {
  if (fuzz.kind === 'raw') {
    return sendRaw(baseUrl, fuzz.bytes);
  }
  const { hostname, port } = new URL(baseUrl);
  const { contentType, bytes } = bodyOf(fuzz);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: hostname,
        port,
        method: fuzz.method.toUpperCase(),
        path: fuzz.url,
        headers: {
          ...fuzz.headers,
          ...(contentType ? { 'content-type': contentType } : {}),
          ...(bytes ? { 'content-length': bytes.length } : {}),
        },
        timeout: 20_000,
      },
      (response) => {
        if (String(response.headers['content-type']).startsWith('text/event-stream')) {
          // A live stream of an object that will not settle here (no worker): its answer is the status line.
          resolve({ statusCode: response.statusCode ?? 0, headers: response.headers as Record<string, string>, body: '' });
          outgoing.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            statusCode: response.statusCode ?? 0,
            headers: response.headers as Record<string, string>,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error('no answer within 20 s')));
    outgoing.on('error', reject);
    outgoing.end(bytes);
  });
}

/** The request with its placeholders replaced by objects created earlier in the run (or left as they are before any exists). */
function withKnownObjects(fuzz: FuzzRequest, created: { id: string; identifier: string }[]): FuzzRequest {
  if (fuzz.kind !== 'http' || created.length === 0) {
    return fuzz;
  }
  const url = fuzz.url
    .replace(new RegExp(`${KNOWN_OBJECT}(\\d+)`, 'g'), (_, index: string) => created[Number(index) % created.length]!.id)
    .replace(new RegExp(`${KNOWN_IDENTIFIER}(\\d+)`, 'g'), (_, index: string) => created[Number(index) % created.length]!.identifier);
  return { ...fuzz, url };
}

function describeRequest(fuzz: FuzzRequest): string {
  const text = JSON.stringify(fuzz);
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text;
}

describe('fuzzing every operation of the OpenAPI document', () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await service?.close();
    await closeDatabase();
  });

  it(`answers ${REQUESTS} plausible and hostile requests without a 5xx, every error in the one shape, keeping nothing it refused`, async () => {
    // Printed so a failing run can be replayed with TEST_FUZZ_SEED.
    process.stdout.write(`openapi fuzz: TEST_FUZZ_SEED=${SEED}\n`);
    let counter = 0;
    const identifiers = fc.oneof(
      { weight: 6, arbitrary: fc.constant(null).map(() => `fz-${SEED}-${counter++}`) },
      { weight: 1, arbitrary: fc.constantFrom('.hidden', 'a..b', 'a/b', 'x'.repeat(201), '', 'a\u0000b', 'ü') },
    );
    const requests = fc.sample(requestsFor(document, identifiers), { seed: SEED, numRuns: REQUESTS });
    const operationsSeen = new Set<string>();
    const refusedIdentifiers: string[] = [];
    const created: { id: string; identifier: string }[] = [];
    for (const drawn of requests) {
      const fuzz = withKnownObjects(drawn, created);
      operationsSeen.add(fuzz.operation);
      let response: RawResponse;
      try {
        response = await send(service.baseUrl, fuzz);
      } catch (error) {
        throw new Error(`no answer (${String(error)}) to ${describeRequest(fuzz)} (TEST_FUZZ_SEED=${SEED})`);
      }
      try {
        expect(response.statusCode).toBeGreaterThanOrEqual(200);
        expect(response.statusCode).toBeLessThan(500);
        if (response.statusCode >= 400 && (fuzz.kind === 'raw' || fuzz.method !== 'head')) {
          const body = JSON.parse(response.body) as Record<string, unknown>;
          expectErrorShape(body, response.statusCode);
          expect(DOCUMENTED_CODES).toContain(body.code);
        }
      } catch (error) {
        throw new Error(
          `${(error as Error).message}\nanswer ${response.statusCode} ${response.body.slice(0, 500)}\nto ${describeRequest(fuzz)} (TEST_FUZZ_SEED=${SEED})`,
        );
      }
      if (fuzz.kind === 'http' && fuzz.identifier?.startsWith('fz-') && response.statusCode >= 400) {
        refusedIdentifiers.push(fuzz.identifier);
      }
      if (fuzz.kind === 'http' && response.statusCode === 202 && fuzz.url === '/api/v1/process') {
        created.push(JSON.parse(response.body) as { id: string; identifier: string });
      }
    }
    expect([...operationsSeen].sort()).toEqual(
      Object.entries(document.paths)
        .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
        .sort(),
    );
    expect(refusedIdentifiers.length).toBeGreaterThan(20);
    expect(created.length).toBeGreaterThan(10);
    const kept = await query<{ identifier: string }>('select identifier from processing_objects where identifier = any($1)', [
      refusedIdentifiers,
    ]);
    expect(kept).toEqual([]);
    const keys = await listS3Keys(`fz-${SEED}-`);
    expect(keys.filter((key) => refusedIdentifiers.includes(key.split('/')[0]!))).toEqual([]);
  });
});
