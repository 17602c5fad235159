import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Logger, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access, Caller } from '../access/access.decorator';
import type { Principal } from '../access/principal';
import { ApiObjectIdParam, ApiUuidParam } from '../common/api-params.decorator';
import { ApiErrors } from '../common/api-errors.decorator';
import { ObjectIdPipe, uuidPipe } from '../common/object-id.pipe';
import {
  CreatedWebhookResponse,
  CreateWebhookDto,
  DeliveriesQuery,
  WebhookDeliveryListResponse,
  WebhookListResponse,
} from './dto/webhooks.dto';
import { toDeliveryView, toWebhookView } from './webhook.presenter';
import { WebhooksService } from './webhooks.service';

const DEFAULT_DELIVERIES = 50;

const WebhookIdPipe = uuidPipe('webhook_id');

const ApiWebhookIdParam = () => ApiUuidParam('webhook_id', '3f2b8c1e-6d4a-4e7b-9c2d-1a5e8f0b7c63');

/** A team's webhooks: told when any of its objects settles. Each team sees and manages only its own. */
@ApiTags('webhooks')
@Controller('api/v1')
export class WebhooksController {
  private readonly logger = new Logger(WebhooksController.name);

  constructor(private readonly webhooks: WebhooksService) {}

  @Post('webhooks')
  @ApiOperation({
    summary: "Register a webhook for the team's objects; its signing secret is in this answer only",
    description:
      'Each delivery is a POST of {type: "object.<event>", timestamp, data: <the progress view>}, signed per Standard Webhooks ' +
      '(webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">), retried with exponential backoff.',
  })
  @ApiCreatedResponse({ type: CreatedWebhookResponse })
  @Access('write')
  @ApiErrors(400, 503)
  async create(@Body() body: CreateWebhookDto, @Caller() caller: Principal): Promise<CreatedWebhookResponse> {
    const webhook = await this.webhooks.create(body, caller);
    this.logger.log(
      `Webhook ${webhook.id} of team '${webhook.team}' registered for ${webhook.events.join(', ')} by key ${caller.keyId ?? '(open access)'}`,
    );
    return { ...toWebhookView(webhook), secret: webhook.secret };
  }

  @Get('webhooks')
  @ApiOperation({ summary: "The team's webhooks (never their secrets)" })
  @ApiOkResponse({ type: WebhookListResponse })
  @Access('read')
  @ApiErrors(503)
  async list(@Caller() caller: Principal): Promise<WebhookListResponse> {
    return { items: (await this.webhooks.list(caller)).map(toWebhookView) };
  }

  @Delete('webhooks/:webhook_id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a webhook: it gets no more deliveries, and its delivery records go with it' })
  @ApiWebhookIdParam()
  @ApiNoContentResponse({ description: 'Deleted' })
  @Access('write')
  @ApiErrors(400, 404, 503)
  async delete(@Param('webhook_id', WebhookIdPipe) id: string, @Caller() caller: Principal): Promise<void> {
    await this.webhooks.delete(id, caller);
    this.logger.log(`Webhook ${id} deleted by key ${caller.keyId ?? '(open access)'}`);
  }

  @Get('webhooks/:webhook_id/deliveries')
  @ApiOperation({ summary: "A webhook's latest deliveries: status, attempts, last error, next attempt" })
  @ApiWebhookIdParam()
  @ApiOkResponse({ type: WebhookDeliveryListResponse })
  @Access('read')
  @ApiErrors(400, 404, 503)
  async deliveries(
    @Param('webhook_id', WebhookIdPipe) id: string,
    @Query() query: DeliveriesQuery,
    @Caller() caller: Principal,
  ): Promise<WebhookDeliveryListResponse> {
    return { items: (await this.webhooks.deliveriesOf(id, caller, query.limit ?? DEFAULT_DELIVERIES)).map(toDeliveryView) };
  }

  @Get('objects/:object_id/webhook-deliveries')
  @ApiOperation({ summary: "The latest webhook deliveries about an object: to its own webhook and to its team's" })
  @ApiObjectIdParam()
  @ApiOkResponse({ type: WebhookDeliveryListResponse })
  @Access('read')
  @ApiErrors(400, 404, 503)
  async objectDeliveries(
    @Param('object_id', ObjectIdPipe) id: string,
    @Query() query: DeliveriesQuery,
    @Caller() caller: Principal,
  ): Promise<WebhookDeliveryListResponse> {
    return { items: (await this.webhooks.deliveriesOfObject(id, caller, query.limit ?? DEFAULT_DELIVERIES)).map(toDeliveryView) };
  }
}
