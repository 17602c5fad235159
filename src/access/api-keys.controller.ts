import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Logger, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator';
import { ApiUuidParam } from '../common/api-params.decorator';
import { uuidPipe } from '../common/object-id.pipe';
import { Access, Caller } from './access.decorator';
import { toApiKeyView } from './api-key.presenter';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyListResponse, CreateApiKeyDto, CreatedApiKeyResponse } from './dto/api-keys.dto';
import type { Principal } from './principal';

/** Admin endpoints for API keys; `npm run keys` does the same from a shell. */
@ApiTags('access')
@Controller('api/v1/keys')
@Access('admin')
export class ApiKeysController {
  private readonly logger = new Logger(ApiKeysController.name);

  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the key is in this answer only' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiErrors(400, 503)
  async create(@Body() body: CreateApiKeyDto, @Caller() caller: Principal): Promise<CreatedApiKeyResponse> {
    const { key, secret } = await this.apiKeys.create(body);
    this.logger.log(
      `API key ${key.id} ('${key.name}') created for team '${key.team}' with scopes ${key.scopes.join(', ')} by key ${caller.keyId ?? '(open access)'}`,
    );
    return { ...toApiKeyView(key), key: secret };
  }

  @Get()
  @ApiOperation({ summary: 'Every API key, revoked ones included (never their secrets)' })
  @ApiOkResponse({ type: ApiKeyListResponse })
  @ApiErrors(503)
  async list(): Promise<ApiKeyListResponse> {
    return { items: (await this.apiKeys.list()).map(toApiKeyView) };
  }

  @Delete(':key_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke an API key: it stops working at once here, and within API_KEY_CACHE_MS on every other process' })
  @ApiUuidParam('key_id', '8d0f1c9e-3b7a-4c55-9a0e-2f4b6d8c1a37')
  @ApiNoContentResponse({ description: 'Revoked (also when it already was)' })
  @ApiErrors(400, 404, 503)
  async revoke(@Param('key_id', uuidPipe('key_id')) id: string, @Caller() caller: Principal): Promise<void> {
    const key = await this.apiKeys.revoke(id);
    this.logger.log(`API key ${key.id} of team '${key.team}' revoked by key ${caller.keyId ?? '(open access)'}`);
  }
}
