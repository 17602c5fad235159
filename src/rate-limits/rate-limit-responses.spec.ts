import { documentRateLimits } from './rate-limit-responses';

interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: unknown; examples: Record<string, { value: unknown }> }>;
}
type Paths = Record<string, Record<string, { responses: Record<string, Response> }>>;

const errorContent = (examples: Record<string, { value: unknown }>) => ({
  'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' }, examples },
});

/** The paths after documentRateLimits ran on a document holding only them. */
function documented(paths: Paths): Paths {
  const document = { openapi: '3.0.0', info: { title: 't', version: '1' }, paths, components: { schemas: {} } };
  documentRateLimits(document);
  return document.paths;
}

describe('documentRateLimits', () => {
  it('adds a 429 (in status order) to operations under /api/ only, with the submissions example on submissions only', () => {
    const paths = documented({
      '/api/v1/process': {
        post: { responses: { 202: { description: 'queued' }, 503: { description: 'down', content: errorContent({}) } } },
      },
      '/api/v1/status': { get: { responses: { 200: { description: 'ok' } } } },
      '/health/live': { get: { responses: { 200: { description: 'live' } } } },
    });
    const process = paths['/api/v1/process']!.post!.responses;
    expect(Object.keys(process)).toEqual(['202', '429', '503']);
    expect(Object.keys(process['429']!.content!['application/json']!.examples)).toEqual(['requests', 'submissions']);
    expect(Object.keys(paths['/api/v1/status']!.get!.responses['429']!.content!['application/json']!.examples)).toEqual(['requests']);
    expect(Object.keys(process['202']!.headers ?? {})).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']);
    expect(process['503']!.headers).toBeUndefined();
    expect(paths['/health/live']!.get!.responses).toEqual({ 200: { description: 'live' } });
  });

  it('keeps a 429 an operation documents itself, adding the rate limits to it', () => {
    const streamCap = { statusCode: 429, error: 'Too Many Requests', message: 'Too many streams', code: 'too_many_streams' };
    const paths = documented({
      '/api/v1/progress/{object_id}/stream': {
        get: {
          responses: {
            429: {
              description: 'Too many streams.',
              headers: { 'Retry-After': { description: 'seconds' } },
              content: errorContent({ too_many_streams: { value: streamCap } }),
            },
          },
        },
      },
    });
    const tooMany = paths['/api/v1/progress/{object_id}/stream']!.get!.responses['429'];
    expect(tooMany!.description).toMatch(/^Too many streams\. Or: Too many requests/);
    expect(Object.keys(tooMany!.content!['application/json']!.examples)).toEqual(['too_many_streams', 'requests']);
    expect(tooMany!.content!['application/json']!.examples.too_many_streams!.value).toEqual(streamCap);
    expect(tooMany!.headers!['Retry-After']).toEqual({ description: 'seconds' });
    expect(Object.keys(tooMany!.headers!).sort()).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After']);
  });
});
