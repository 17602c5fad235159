import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { apiRole } from './api-role';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { buildOpenApiDocument } from './openapi';

/**
 * The document /docs/json serves, built without PostgreSQL, Redis or S3: in Nest's preview
 * mode modules and routes are scanned but no provider is instantiated and nothing connects.
 * Used by `npm run openapi:export` to write the committed contract (openapi/openapi.json).
 */
export async function exportOpenApiDocument(): Promise<OpenAPIObject> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(new AppConfig({ APP_ROLE: 'api' }), [apiRole]),
    new FastifyAdapter(),
    {
      preview: true,
      logger: false,
      abortOnError: false,
    },
  );
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
