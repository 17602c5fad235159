import fc from 'fast-check';

/** The parts of the committed OpenAPI document the fuzzer reads. */
interface SchemaObject {
  type?: string;
  enum?: unknown[];
  example?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, SchemaObject>;
  $ref?: string;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: SchemaObject;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: SchemaObject }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, SchemaObject> };
}

/** One request to send: through an HTTP client, or as raw bytes for what a client would refuse to send. */
export type FuzzRequest =
  | {
      kind: 'http';
      operation: string;
      method: string;
      /** Path and query, already percent-encoded (or deliberately not). */
      url: string;
      headers: Record<string, string>;
      body?:
        | { type: 'json'; text: string }
        | { type: 'raw'; contentType: string; text: string }
        | {
            type: 'multipart';
            fields: [string, string][];
            file?: { name: string; filename: string; contentType: string; content: string };
          };
      /** The identifier a submission asked for, to check that a refusal kept nothing under it. */
      identifier?: string;
    }
  | { kind: 'raw'; operation: string; bytes: string };

/**
 * Placeholders for objects the run has created, replaced when the request is sent (requests are
 * drawn before any exists): cancel, retry, delete and reads then meet real objects too.
 */
export const KNOWN_OBJECT = 'KNOWNOBJECT';
export const KNOWN_IDENTIFIER = 'KNOWNIDENTIFIER';

const VALID_OPERATIONS = ['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail'];
const UUID_LIKE = ['00000000-0000-0000-0000-000000000000', '550e8400-e29b-41d4-a716-446655440000'];

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) {
    value = level % 2 === 0 ? { a: value } : [value];
  }
  return value;
}

/** Strings meant to break things: control characters, unpaired surrogates, path tricks, very long text. */
const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    '\ud83d',
    '../../etc/passwd',
    '%00',
    '%',
    '%zz',
    '__proto__',
    'constructor',
    ' ',
    '\r\n',
    '😀',
    'null',
    '-1',
    '1e400',
    'NaN',
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 201, max: 70_000 }).map((length) => 'a'.repeat(length)),
);

/** JSON values of every type, some nested past the body's limit, some with unstorable characters in keys. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  hostileString,
  fc.constantFrom(
    nested(63),
    nested(64),
    nested(65),
    nested(66),
    nested(3000),
    { ['k\u0000']: 1 },
    { ['\ud800']: 'v' },
    { __proto__: { polluted: true } },
    [],
  ),
);

/** A query or path value, percent-encoded as UTF-8 (an unpaired surrogate goes as U+FFFD; brokenEncoding sends its bytes). */
function encodeComponent(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

const brokenEncoding = fc.constantFrom('%E0%A4%A', '%ZZ', '%', '%ED%A0%80', '%FF%FE', '%00', '%C0%AF');

function resolve(document: OpenApiDocument, schema: SchemaObject | undefined): SchemaObject | undefined {
  return schema?.$ref ? document.components.schemas[schema.$ref.split('/').pop() as string] : schema;
}

/** A value for a parameter: mostly what its schema allows (enum, example, range, uuid), often hostile. */
function parameterValue(parameter: Parameter, identifiers: fc.Arbitrary<string>): fc.Arbitrary<{ encoded: string }> {
  const schema = parameter.schema ?? {};
  const plausible: fc.Arbitrary<string>[] = [];
  if (schema.enum) {
    plausible.push(fc.constantFrom(...schema.enum.map(String)));
  }
  if (schema.example !== undefined) {
    // JSON.stringify writes a number or boolean as String would, and an object as JSON rather than '[object Object]'.
    plausible.push(fc.constant(typeof schema.example === 'string' ? schema.example : JSON.stringify(schema.example)));
  }
  if (schema.format === 'uuid') {
    plausible.push(
      fc.uuid(),
      fc.constantFrom(...UUID_LIKE),
      fc.nat().map((index) => `${KNOWN_OBJECT}${index}`),
    );
  }
  if (schema.type === 'integer') {
    plausible.push(fc.integer({ min: (schema.minimum ?? 0) - 2, max: (schema.maximum ?? 100) + 2 }).map(String));
  }
  if (parameter.name === 'identifier') {
    plausible.push(
      identifiers,
      fc.nat().map((index) => `${KNOWN_IDENTIFIER}${index}`),
    );
  }
  if (parameter.name === 'cursor') {
    plausible.push(cursorValue);
  }
  if (/^created_/.test(parameter.name)) {
    plausible.push(dateValue);
  }
  plausible.push(fc.string({ maxLength: 20 }));
  return fc.oneof(
    { weight: 3, arbitrary: fc.oneof(...plausible).map((value) => ({ encoded: encodeComponent(value) })) },
    // Kept short enough that a URL with every parameter stays under the 16 KiB header limit (raw requests go beyond it).
    { weight: 1, arbitrary: hostileString.map((value) => ({ encoded: encodeComponent(value.slice(0, 2000)) })) },
    { weight: 1, arbitrary: brokenEncoding.map((encoded) => ({ encoded })) },
  );
}

const dateValue = fc.oneof(
  fc
    .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    '+275760-09-13',
    '-000001-01-01',
    '0000-01-01',
    '2026-02-30',
    '2026-01-01T24:00:00Z',
    '9999-12-31T23:59:59-23:59',
    '0001-01-01T00:00:00+23:59',
    '2026-01-01',
  ),
);

const cursorValue = fc.oneof(
  fc
    .tuple(
      fc.oneof(dateValue, fc.constantFrom('2026-01-01T00:00:00.123456Z', '2026-01-01 00:00:00', '')),
      fc.oneof(fc.uuid(), fc.constantFrom('0'.repeat(36), 'x', '')),
    )
    .map((position) => Buffer.from(JSON.stringify(position)).toString('base64url')),
  fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify(value) ?? '').toString('base64url')),
  fc.constant('WyIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiLCIwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAiXQ'),
);

/** The JSON body of POST /api/v1/process, field by field from its schema, each plausible or hostile. */
function submissionBody(document: OpenApiDocument, schema: SchemaObject, identifier: string): fc.Arbitrary<Record<string, unknown>> {
  const properties = resolve(document, schema)?.properties ?? {};
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    identifier: fc.constant(identifier),
    operations: fc.subarray(VALID_OPERATIONS, { minLength: 1 }),
    payload: fc.jsonValue({ maxDepth: 3 }),
    metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    options: fc.oneof(
      fc.constant({ export: { format: 'csv' } }),
      fc.constant({ validate: { json_schema: { type: 'array' } } }),
      fc.constantFrom(
        { validate: { json_schema: { $ref: '#' } } },
        { validate: { json_schema: { properties: { s: { pattern: '^(a+)+$' } } } } },
        { validate: { json_schema: { properties: { s: { pattern: '(a)\\1' } } } } },
        { validate: { json_schema: { $ref: 'http://example.com/x' } } },
        { validate: { json_schema: { type: 'nonsense' } } },
        { validate: { json_schema: nested(40) } },
        { thumbnail: { sizes: [[0, 5000]] } },
        { unknown: true },
      ),
    ),
    priority: fc.integer({ min: -1, max: 12 }),
  };
  const fields = Object.keys(properties).map((name) =>
    fc
      .option(fc.oneof({ weight: 4, arbitrary: plausible[name] ?? fc.jsonValue() }, { weight: 1, arbitrary: hostileJson }), {
        nil: undefined,
        freq: name === 'identifier' || name === 'operations' ? 10 : 2,
      })
      .map((value) => [name, value] as const),
  );
  return fc.tuple(...fields).map((entries) => Object.fromEntries(entries.filter(([, value]) => value !== undefined)));
}

function submission(
  document: OpenApiDocument,
  operation: Operation,
  name: string,
  identifiers: fc.Arbitrary<string>,
  headers: fc.Arbitrary<Record<string, string>>,
): fc.Arbitrary<FuzzRequest> {
  const content = operation.requestBody?.content ?? {};
  const json = content['application/json'];
  const arbitraries: fc.Arbitrary<FuzzRequest>[] = [];
  if (json) {
    arbitraries.push(
      fc.tuple(identifiers, headers).chain(([identifier, chosenHeaders]) =>
        submissionBody(document, json.schema, identifier).map((body): FuzzRequest => ({
          kind: 'http',
          operation: name,
          method: 'post',
          url: '/api/v1/process',
          headers: chosenHeaders,
          body: { type: 'json', text: JSON.stringify(body) },
          identifier,
        })),
      ),
      // Submissions that should be accepted: the objects that later requests name.
      fc
        .tuple(identifiers, fc.subarray(VALID_OPERATIONS, { minLength: 1 }), fc.jsonValue({ maxDepth: 3 }))
        .map(([identifier, operations, payload]): FuzzRequest => ({
          kind: 'http',
          operation: name,
          method: 'post',
          url: '/api/v1/process',
          headers: {},
          body: { type: 'json', text: JSON.stringify({ identifier, operations, payload }) },
          identifier,
        })),
      fc
        .tuple(
          identifiers,
          fc.constantFrom(
            '{',
            '{"identifier":',
            '[]',
            'null',
            '"x"',
            '',
            '{"__proto__":{"a":1}}',
            `{"identifier":"x","operations":["validate"],"payload":${'['.repeat(100_000)}`,
          ),
        )
        .map(([identifier, text]): FuzzRequest => ({
          kind: 'http',
          operation: name,
          method: 'post',
          url: '/api/v1/process',
          headers: {},
          body: { type: 'json', text },
          identifier,
        })),
      fc
        .tuple(
          identifiers,
          fc.constantFrom(
            'text/plain',
            'application/xml',
            'multipart/form-data',
            'multipart/form-data; boundary=x',
            'application/x-www-form-urlencoded',
            'application/json; charset=latin1',
          ),
        )
        .map(([identifier, contentType]): FuzzRequest => ({
          kind: 'http',
          operation: name,
          method: 'post',
          url: '/api/v1/process',
          headers: {},
          body: { type: 'raw', contentType, text: `--x\r\ngarbage ${identifier}` },
        })),
    );
  }
  if (content['multipart/form-data']) {
    const formValue = fc.oneof(
      { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
      { weight: 1, arbitrary: hostileString.map((value) => value.slice(0, 2000)) },
      { weight: 1, arbitrary: hostileJson.map((value) => JSON.stringify(value) ?? '') },
    );
    arbitraries.push(
      fc
        .record({
          identifier: identifiers,
          operations: fc.oneof(fc.constantFrom('validate', 'validate,transform', '["analyze"]', '[', ''), formValue),
          metadata: fc.option(fc.oneof(fc.constant('{"a":1}'), formValue), { nil: undefined }),
          options: fc.option(fc.oneof(fc.constant('{"export":{"format":"csv"}}'), formValue), { nil: undefined }),
          priority: fc.option(fc.oneof(fc.constantFrom('1', '10', '11', '-3', 'x'), formValue), { nil: undefined }),
          filename: fc.oneof(
            fc.constantFrom('a.json', 'a.csv', 'a\u0000.json', 'x\ud800.txt', '', '../a.json', 'a.pdf'),
            hostileString.map((value) => value.slice(0, 300)),
          ),
          contentType: fc.constantFrom(
            'application/json',
            'text/csv',
            'application/pdf',
            'image/png',
            'application/octet-stream',
            'text/plain',
          ),
          content: fc.constantFrom('[{"a":1}]', 'a,b\n1,2\n', '\u0000\u0001', '', '{"a":', '%PDF-1.4'),
          withFile: fc.boolean(),
        })
        .map(({ identifier, operations, metadata, options, priority, filename, contentType, content, withFile }): FuzzRequest => {
          const fields: [string, string][] = [
            ['identifier', identifier],
            ['operations', operations],
          ];
          if (metadata !== undefined) {
            fields.push(['metadata', metadata]);
          }
          if (options !== undefined) {
            fields.push(['options', options]);
          }
          if (priority !== undefined) {
            fields.push(['priority', priority]);
          }
          return {
            kind: 'http',
            operation: name,
            method: 'post',
            url: '/api/v1/process',
            headers: {},
            body: { type: 'multipart', fields, file: withFile ? { name: 'file', filename, contentType, content } : undefined },
            identifier,
          };
        }),
    );
  }
  return fc.oneof(...arbitraries);
}

/** Requests an HTTP client would not send: unknown methods, broken request lines and headers, oversized headers. */
function rawRequest(path: string, name: string): fc.Arbitrary<FuzzRequest> {
  return fc
    .oneof(
      fc
        .constantFrom('FOO', 'BREW', 'G E T', 'get', 'CONNECT', 'TRACE', '')
        .map((method) => `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      fc.constantFrom(
        `GET ${path} HTTP/9.9\r\n\r\n`,
        `GET ${path}\r\n\r\n`,
        `GET ${path} HTTP/1.1\r\nBad Header\r\n\r\n`,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
        `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n`,
      ),
      fc.integer({ min: 17_000, max: 40_000 }).map((size) => `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`),
      fc.integer({ min: 17_000, max: 40_000 }).map((size) => `GET ${path}?cursor=${'a'.repeat(size)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    )
    .map((bytes): FuzzRequest => ({ kind: 'raw', operation: name, bytes }));
}

/**
 * Requests for every operation of the document: its path, query and header parameters from
 * their schemas (plausible or hostile), its request bodies, odd methods and raw malformed requests.
 */
export function requestsFor(document: OpenApiDocument, identifiers: fc.Arbitrary<string>): fc.Arbitrary<FuzzRequest> {
  const perOperation: fc.Arbitrary<FuzzRequest>[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const name = `${method.toUpperCase()} ${path}`;
      const parameters = operation.parameters ?? [];
      const values = fc.tuple(
        ...parameters.map((parameter) =>
          fc.option(parameterValue(parameter, identifiers), { nil: undefined, freq: parameter.in === 'path' ? 100 : 2 }),
        ),
      );
      const headers = values.map((chosen) =>
        Object.fromEntries(
          parameters.flatMap((parameter, index) =>
            parameter.in === 'header' && chosen[index] ? [[parameter.name, decodeForHeader(chosen[index].encoded)]] : [],
          ),
        ),
      );
      const url = values.map((chosen) => {
        let filled = path;
        const query: string[] = [];
        parameters.forEach((parameter, index) => {
          const value = chosen[index];
          if (parameter.in === 'path') {
            filled = filled.replace(`{${parameter.name}}`, value?.encoded || 'x');
          }
          if (parameter.in === 'query' && value) {
            query.push(`${parameter.name}=${value.encoded}`);
          }
        });
        return query.length > 0 ? `${filled}?${query.join('&')}` : filled;
      });
      const plain = fc
        .tuple(url, headers, fc.constantFrom(method, method, method, method, 'put', 'patch', 'options', 'head'))
        .map(([chosenUrl, chosenHeaders, chosenMethod]): FuzzRequest => ({
          kind: 'http',
          operation: name,
          method: chosenMethod,
          url: chosenUrl,
          headers: chosenHeaders,
        }));
      perOperation.push(plain, rawRequest(path.replace(/\{[^}]+\}/g, UUID_LIKE[1]!), name));
      if (operation.requestBody) {
        perOperation.push(
          submission(document, operation, name, identifiers, headers),
          submission(document, operation, name, identifiers, headers),
        );
      }
    }
  }
  return fc.oneof(...perOperation);
}

/** Header values must be Latin-1 without control characters to be sent at all: decode what can be, keep the rest encoded. */
function decodeForHeader(encoded: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
  return /^[\x20-\x7e\x80-\xff]*$/.test(decoded) ? decoded : encoded;
}
