import { Controller, Get } from '@nestjs/common';
import { PublicAccess } from './access/access.decorator';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SERVICE_NAME, SERVICE_VERSION } from './common/service-info';
import { AppConfig } from './config/app-config';

/** The service's name, version and where its parts are: the same on every deployment. */
const LINKS = {
  service: SERVICE_NAME,
  version: SERVICE_VERSION,
  docs: '/docs',
  openapi: '/docs/json',
  health: '/health',
  api: '/api/v1',
  ui: '/ui',
};

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
        ...Object.fromEntries(Object.keys(LINKS).map((name) => [name, { type: 'string' }])),
        authentication: {
          type: 'string',
          enum: ['api_key', 'none'],
          description: 'api_key: send Authorization: Bearer <key>; none: access control is off',
        },
      },
      required: [...Object.keys(LINKS), 'authentication'],
      example: { ...LINKS, authentication: 'api_key' },
    },
  })
  info() {
    return {
      ...LINKS,
      authentication: this.config.access.required ? 'api_key' : 'none',
    };
  }
}
