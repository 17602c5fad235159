import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { SERVICE_NAME, SERVICE_VERSION } from './common/service-info';
import { API_KEY_SCHEME } from './access/access.decorator';
import { documentRateLimits } from './rate-limits/rate-limit-responses';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Object Processing Service')
    .setDescription(
      `${SERVICE_NAME}: accepts objects, runs chains of operations on them asynchronously, stores every result in S3 and streams progress over Server-Sent Events. Every error has the shape {statusCode, error, message, code, details?}. ` +
        'Any request may also be refused before routing: 400 malformed_request (unknown method, malformed request line or header, bad percent-encoding), ' +
        '414 uri_too_long (a path parameter over 512 characters), 431 headers_too_large (headers over 16 KiB), 408 request_timeout. ' +
        'Requests under /api/ are rate limited per client (API key, or address without one), across every instance: RATE_LIMIT_REQUESTS per ' +
        'RATE_LIMIT_WINDOW_MS, and submissions also RATE_LIMIT_SUBMISSIONS; their responses carry RateLimit-Limit, RateLimit-Remaining and ' +
        'RateLimit-Reset, and over a limit the answer is 429 rate_limited with Retry-After.',
    )
    .setVersion(SERVICE_VERSION)
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'Where this document is served from; clients set their own base URL')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opsk_… API key',
        description:
          "An API key (opsk_…) from `npm run keys -- create` or POST /api/v1/keys. Scopes: read, write, admin. A key sees only its team's objects; admin keys see every team.",
      },
      API_KEY_SCHEME,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  documentRateLimits(document);
  // Operations that need a key say so themselves; the rest (probes, the service's links) need none.
  document.security = [];
  return document;
}

/** Swagger UI at /docs and the OpenAPI document at /docs/json. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
