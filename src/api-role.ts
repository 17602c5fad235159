import fastifyMultipart from '@fastify/multipart';
import { Module } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { AccessApiModule } from './access/access-api.module';
import type { AppRole } from './app-role';
import { validationPipe } from './common/validation.pipe';
import { ObjectsApiModule } from './objects/objects-api.module';
import { serveOpenApi } from './openapi';
import { ProcessingModule } from './processing/processing.module';
import { mountBullBoard } from './queue/bull-board';
import { QueueApiModule } from './queue/queue-api.module';
import { installRateLimits } from './rate-limits/rate-limits';
import { RootController } from './root.controller';
import { UiModule } from './ui/ui.module';
import { WebhooksApiModule } from './webhooks/webhooks-api.module';

@Module({})
class ApiRoleModule {}

/** The HTTP API with its docs, dashboard and UI (roles api and all). */
export const apiRole: AppRole = {
  module: () => ({
    module: ApiRoleModule,
    imports: [ProcessingModule, ObjectsApiModule, AccessApiModule, WebhooksApiModule, QueueApiModule, UiModule],
    controllers: [RootController],
    providers: [{ provide: APP_PIPE, useValue: validationPipe }],
  }),
  async install(app, config) {
    // multipart/form-data uploads of POST /api/v1/process; the controller reads the parts as a stream (nothing is attached to the body).
    await app.register(fastifyMultipart, {
      limits: { fileSize: config.limits.uploadBytes, files: 1, fields: 10, fieldSize: config.limits.payloadBytes },
    });
    await installRateLimits(app.getHttpAdapter().getInstance(), config);
    serveOpenApi(app);
    await mountBullBoard(app, config);
  },
};
