import { Controller, Get } from '@nestjs/common';
import { PublicAccess } from './access/access.decorator';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SERVICE_NAME, SERVICE_VERSION } from './common/service-info';
import { AppConfig } from './config/app-config';

const LINKS = ['service', 'version', 'docs', 'openapi', 'health', 'api', 'ui'];

@ApiTags('service')
@PublicAccess()
@Controller()
export class RootController {
  constructor(private readonly config: AppConfig) {}

  @Get()
  @ApiOperation({ summary: 'Service name, version, links, and whether the API wants a key' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        ...Object.fromEntries(LINKS.map((name) => [name, { type: 'string' }])),
        authentication: {
          type: 'string',
          enum: ['api_key', 'none'],
          description: 'api_key: send Authorization: Bearer <key>; none: access control is off',
        },
      },
      required: [...LINKS, 'authentication'],
      example: {
        service: SERVICE_NAME,
        version: SERVICE_VERSION,
        docs: '/docs',
        openapi: '/docs/json',
        health: '/health',
        api: '/api/v1',
        ui: '/ui',
        authentication: 'api_key',
      },
    },
  })
  info() {
    return {
      service: SERVICE_NAME,
      version: SERVICE_VERSION,
      docs: '/docs',
      openapi: '/docs/json',
      health: '/health',
      api: '/api/v1',
      ui: '/ui',
      authentication: this.config.access.required ? 'api_key' : 'none',
    };
  }
}
