import { Module } from '@nestjs/common';
import { AccessModule } from './access.module';
import { ApiKeysController } from './api-keys.controller';

/** The key administration endpoints, for processes that serve the API. */
@Module({ imports: [AccessModule], controllers: [ApiKeysController] })
export class AccessApiModule {}
