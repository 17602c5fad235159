import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DOCUMENTED_OPERATIONS } from '../src/processing/dto/operation-names';
import { TestApp, startTestApp } from './support/test-app';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CONTRACT_PATH, TYPES_PATH, renderTypes } = require('../scripts/export-openapi') as {
  CONTRACT_PATH: string;
  TYPES_PATH: string;
  renderTypes: (contractPath?: string) => string;
};

const REGENERATE = 'Run `npm run openapi:export` and commit openapi/openapi.json and test/support/api-types.ts';
// Swagger UI pre-fills a parameter's example: a shared Idempotency-Key would make every "Try it out" submission a repeat.
// Swagger UI would pre-fill an example into "Try it out": a shared Idempotency-Key, or a stream token that cannot work.
const WITHOUT_EXAMPLE = new Set(['header idempotency-key', 'query access_token']);
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  example?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  allOf?: Schema[];
}

interface MediaType {
  schema?: Schema;
  example?: unknown;
  examples?: Record<string, { summary?: string; value: unknown }>;
}

interface Parameter {
  name: string;
  in: string;
  example?: unknown;
  examples?: Record<string, unknown>;
  schema?: Schema;
}

interface Operation {
  summary?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, { description?: string; content?: Record<string, MediaType> }>;
}

interface OpenApiDocument {
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

function operationsOf(document: OpenApiDocument): { where: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => ({ where: `${method.toUpperCase()} ${path}`, operation })),
  );
}

function resolve(document: OpenApiDocument, schema: Schema): Schema {
  return schema.$ref ? document.components.schemas[schema.$ref.replace('#/components/schemas/', '')]! : schema;
}

/** Where a schema (or what it refers to) leaves a scalar value without an example, as JSON-pointer-like paths. */
function propertiesWithoutExamples(document: OpenApiDocument, schema: Schema, at: string, seen = new Set<string>()): string[] {
  if (schema.$ref) {
    if (seen.has(schema.$ref)) {
      return [];
    }
    seen.add(schema.$ref);
    return propertiesWithoutExamples(document, resolve(document, schema), schema.$ref.replace('#/components/schemas/', ''), seen);
  }
  if (schema.items) {
    return propertiesWithoutExamples(document, schema.items, `${at}[]`, seen);
  }
  const missing: string[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.$ref || property.items?.$ref) {
      missing.push(...propertiesWithoutExamples(document, property, `${at}.${name}`, seen));
    } else if (property.allOf) {
      missing.push(...property.allOf.flatMap((part) => propertiesWithoutExamples(document, part, `${at}.${name}`, seen)));
    } else if (!('example' in property)) {
      missing.push(`${at}.${name}`);
    }
  }
  return missing;
}

describe('OpenAPI contract', () => {
  let service: TestApp;
  let served: OpenApiDocument;
  let committed: OpenApiDocument;

  beforeAll(async () => {
    service = await startTestApp({ APP_ROLE: 'api' });
    served = (await request(service.baseUrl).get('/docs/json').expect(200)).body as OpenApiDocument;
    committed = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as OpenApiDocument;
  });

  afterAll(async () => {
    await service.close();
  });

  it('the document served at /docs/json is the committed openapi/openapi.json', () => {
    // A readable failure first: which operations appeared or disappeared.
    const servedOperations = operationsOf(served).map(({ where }) => where);
    const committedOperations = operationsOf(committed).map(({ where }) => where);
    expect({ hint: REGENERATE, operations: servedOperations.sort() }).toEqual({ hint: REGENERATE, operations: committedOperations.sort() });
    expect({ hint: REGENERATE, document: served }).toEqual({ hint: REGENERATE, document: committed });
  });

  it('the committed openapi/openapi.json is written exactly as `npm run openapi:export` writes it', () => {
    expect({ hint: REGENERATE, text: readFileSync(CONTRACT_PATH, 'utf8') }).toEqual({
      hint: REGENERATE,
      text: `${JSON.stringify(committed, null, 2)}\n`,
    });
  });

  it('the committed typed client (test/support/api-types.ts) is generated from the committed contract', () => {
    expect({ hint: REGENERATE, types: readFileSync(TYPES_PATH, 'utf8') }).toEqual({ hint: REGENERATE, types: renderTypes(CONTRACT_PATH) });
  });

  it("the committed document lints with no errors under Redocly's recommended rules", () => {
    const cli = join(__dirname, '..', 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
    const lint = spawnSync(process.execPath, [cli, 'lint', CONTRACT_PATH, '--extends=recommended', '--format=stylish'], {
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const errors = `${lint.stdout}${lint.stderr}`.split('\n').filter((line) => / error /.test(line));
    expect({ exitCode: lint.status, errors }).toEqual({ exitCode: 0, errors: [] });
  });

  it('documents the progress stream as text/event-stream whose events carry ProgressResponse, with 204 when nothing is left to send', () => {
    const responses = committed.paths['/api/v1/progress/{object_id}/stream']!.get!.responses;
    const stream = responses['200']!.content!['text/event-stream'] as MediaType & { 'x-event-data-schema'?: Schema };
    expect(Object.keys(responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(stream.schema).toMatchObject({ type: 'string' });
    expect(stream['x-event-data-schema']).toEqual({ $ref: '#/components/schemas/ProgressResponse' });
    expect(responses['204']!.content).toBeUndefined();
    expect(Object.keys(responses['404']!.content!)).toEqual(['application/json']);
  });

  it('lists exactly the operations the service runs', async () => {
    const refused = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({ identifier: 'never-stored', operations: ['resize'] })
      .expect(400);
    expect((refused.body as { details: { valid: unknown } }).details.valid).toEqual(DOCUMENTED_OPERATIONS);
    const listed = committed.components.schemas.SubmitObjectDto!.properties!.operations!.items!.enum;
    expect(listed).toEqual(DOCUMENTED_OPERATIONS);
  });

  it('every $ref points at a schema the document defines', () => {
    const refs = new Set(JSON.stringify(served).match(/#\/components\/schemas\/[^"]+/g) ?? []);
    expect(refs.size).toBeGreaterThan(0);
    const dangling = [...refs].filter((ref) => !(ref.replace('#/components/schemas/', '') in served.components.schemas));
    expect(dangling).toEqual([]);
  });

  it('every operation has a summary and one success response, with a schema and examples unless it is 204 (which may stand beside it)', () => {
    const operations = operationsOf(served);
    expect(operations.length).toBeGreaterThanOrEqual(14);
    for (const { where, operation } of operations) {
      expect({ where, summary: typeof operation.summary === 'string' && operation.summary.length > 0 }).toEqual({ where, summary: true });
      const successes = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
      const withBody = successes.filter(([status]) => status !== '204');
      expect({ where, successes: successes.length > 0, withBody: withBody.length <= 1 }).toEqual({
        where,
        successes: true,
        withBody: true,
      });
      for (const [, response] of successes.filter(([status]) => status === '204')) {
        expect({ where, content: response.content }).toEqual({ where, content: undefined });
      }
      if (withBody.length === 0) {
        continue;
      }
      const [, response] = withBody[0]!;
      const media = Object.entries(response.content ?? {});
      expect({ where, mediaTypes: media.length > 0 }).toEqual({ where, mediaTypes: true });
      for (const [mediaType, { schema, example, examples }] of media) {
        expect({ where, mediaType, schema: schema !== undefined }).toEqual({ where, mediaType, schema: true });
        const exemplified = example !== undefined || examples !== undefined || schema!.example !== undefined;
        const missing = exemplified ? [] : propertiesWithoutExamples(served, schema!, where);
        expect({ where, mediaType, withoutExample: missing }).toEqual({ where, mediaType, withoutExample: [] });
        if (!exemplified) {
          // A schema without properties and without an example gives a reader nothing to go on.
          expect({ where, mediaType, described: Object.keys(resolve(served, schema!).properties ?? {}).length > 0 }).toEqual({
            where,
            mediaType,
            described: true,
          });
        }
      }
    }
  });

  it('documents every error in the one ErrorResponse shape, as JSON, with an example per status whose code the schema allows', () => {
    const errorSchema = served.components.schemas.ErrorResponse;
    const codes = errorSchema!.properties!.code!.enum!;
    expect(codes).toEqual(
      expect.arrayContaining(['validation_failed', 'object_not_found', 'invalid_transition', 'identifier_taken', 'dependency_unavailable']),
    );
    for (const { where, operation } of operationsOf(served)) {
      const takesInput = (operation.parameters ?? []).length > 0 || operation.requestBody !== undefined;
      const errors = Object.entries(operation.responses).filter(([status]) => /^[45]\d\d$/.test(status));
      if (takesInput) {
        expect({ where, documents4xx: errors.some(([status]) => status.startsWith('4')) }).toEqual({ where, documents4xx: true });
      }
      if (where.includes(' /api/v1/')) {
        expect({ where, documentsErrors: errors.length > 0 }).toEqual({ where, documentsErrors: true });
      }
      for (const [status, response] of errors) {
        expect({ where, status, mediaTypes: Object.keys(response.content ?? {}) }).toEqual({
          where,
          status,
          mediaTypes: ['application/json'],
        });
        const media = response.content!['application/json'];
        expect({ where, status, schema: media!.schema }).toEqual({ where, status, schema: { $ref: '#/components/schemas/ErrorResponse' } });
        const examples = Object.values(media!.examples ?? {}).map((entry) => entry.value);
        if (media!.example !== undefined) {
          examples.push(media!.example);
        }
        expect({ where, status, examples: examples.length > 0 }).toEqual({ where, status, examples: true });
        for (const value of examples) {
          const body = value as Record<string, unknown>;
          expect({ where, status, keys: Object.keys(body).filter((key) => !(key in errorSchema!.properties!)) }).toEqual({
            where,
            status,
            keys: [],
          });
          expect({ where, status, required: errorSchema!.required!.filter((key) => !(key in body)) }).toEqual({
            where,
            status,
            required: [],
          });
          expect({ where, statusCode: body.statusCode, knownCode: codes.includes(body.code) }).toEqual({
            where,
            statusCode: Number(status),
            knownCode: true,
          });
        }
      }
    }
  });

  it('every parameter (but the Idempotency-Key) and every request body property has an example', () => {
    for (const { where, operation } of operationsOf(served)) {
      // Swagger UI fills a parameter's example into "Try it out": an example key would make every try a replay of the first.
      for (const parameter of (operation.parameters ?? []).filter(
        (parameter) => !WITHOUT_EXAMPLE.has(`${parameter.in} ${parameter.name}`),
      )) {
        const exemplified = parameter.example !== undefined || parameter.examples !== undefined || parameter.schema?.example !== undefined;
        expect({ where, parameter: `${parameter.in} ${parameter.name}`, exemplified }).toEqual({
          where,
          parameter: `${parameter.in} ${parameter.name}`,
          exemplified: true,
        });
      }
      for (const [mediaType, media] of Object.entries(operation.requestBody?.content ?? {})) {
        expect({ where, mediaType, schema: media.schema !== undefined }).toEqual({ where, mediaType, schema: true });
        expect({ where, mediaType, withoutExample: propertiesWithoutExamples(served, media.schema!, where) }).toEqual({
          where,
          mediaType,
          withoutExample: [],
        });
      }
    }
  });

  it('every property of every schema has an example', () => {
    for (const name of Object.keys(served.components.schemas)) {
      expect({ name, withoutExample: propertiesWithoutExamples(served, { $ref: `#/components/schemas/${name}` }, name) }).toEqual({
        name,
        withoutExample: [],
      });
    }
  });

  it('the documented error examples have the shape the server really answers with', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const notFound = await request(service.baseUrl).get(`/api/v1/progress/${unknown}`).expect(404);
    const documented404 =
      served.paths['/api/v1/progress/{object_id}']!.get!.responses['404']!.content!['application/json']!.examples!.object_not_found!.value;
    expect(Object.keys(notFound.body as object).sort()).toEqual(Object.keys(documented404 as object).sort());
    expect(notFound.body).toEqual({ ...(documented404 as object), message: `Object ${unknown} not found` });

    const badId = await request(service.baseUrl).get('/api/v1/progress/not-a-uuid').expect(400);
    const documented400 =
      served.paths['/api/v1/progress/{object_id}']!.get!.responses['400']!.content!['application/json']!.examples!.validation_failed!.value;
    expect(badId.body).toEqual(documented400);

    const unsupported = await request(service.baseUrl).post('/api/v1/process').set('content-type', 'text/plain').send('hello').expect(415);
    const documented415 =
      served.paths['/api/v1/process']!.post!.responses['415']!.content!['application/json']!.examples!.unsupported_media_type!.value;
    expect(unsupported.body).toEqual(documented415);

    for (const path of ['/health/live', '/health/ready']) {
      const documented = served.paths[path]!.get!.responses['200']!.content!['application/json']!.schema!;
      const answer = await request(service.baseUrl).get(path).expect(200);
      expect({ path, keys: Object.keys(answer.body as object).sort() }).toEqual({ path, keys: [...documented.required!].sort() });
    }

    const malformed = await request(service.baseUrl)
      .post('/api/v1/process')
      .set('content-type', 'application/json')
      .send('{"identifier":')
      .expect(400);
    const documentedMalformed =
      served.paths['/api/v1/process']!.post!.responses['400']!.content!['application/json']!.examples!.malformed_json!.value;
    expect(malformed.body).toEqual(documentedMalformed);
  });
});
