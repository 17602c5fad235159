import { Controller, Get } from '@nestjs/common';
import { PublicAccess } from './access/access.decorator';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SERVICE_NAME, SERVICE_VERSION } from './common/service-info';

@ApiTags('service')
@PublicAccess()
@Controller()
export class RootController {
  @Get()
  @ApiOperation({ summary: 'Service name, version and links' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: Object.fromEntries(['service', 'version', 'docs', 'openapi', 'health', 'api', 'ui'].map((name) => [name, { type: 'string' }])),
      required: ['service', 'version', 'docs', 'openapi', 'health', 'api', 'ui'],
      example: { service: SERVICE_NAME, version: SERVICE_VERSION, docs: '/docs', openapi: '/docs/json', health: '/health', api: '/api/v1', ui: '/ui' },
    },
  })
  info() {
    return { service: SERVICE_NAME, version: SERVICE_VERSION, docs: '/docs', openapi: '/docs/json', health: '/health', api: '/api/v1', ui: '/ui' };
  }
}
