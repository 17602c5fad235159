import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { SERVICE_NAME, SERVICE_VERSION } from './common/service-info';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Object Processing Service')
    .setDescription(
      `${SERVICE_NAME}: accepts objects, runs chains of operations on them asynchronously, stores every result in S3 and streams progress over Server-Sent Events. Every error has the shape {statusCode, error, message, code, details?}.`,
    )
    .setVersion(SERVICE_VERSION)
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs and the OpenAPI document at /docs/json. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
