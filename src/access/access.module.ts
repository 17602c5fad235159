import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RedisModule } from '../redis/redis.module';
import { AccessGuard } from './access.guard';
import { ApiKeysService } from './api-keys.service';
import { StreamTokens } from './stream-tokens';

/** Who may call what: API keys, stream tokens, and the guard every route passes. Every role has it (/metrics may need a key). */
@Module({
  imports: [RedisModule],
  providers: [ApiKeysService, StreamTokens, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [ApiKeysService, StreamTokens],
})
export class AccessModule {}
