import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { Type } from 'class-transformer';
import { DELIVERY_STATUSES, type DeliveryStatus, WEBHOOK_EVENTS, type WebhookEvent } from '../webhook-events';

const WEBHOOK_ID = '3f2b8c1e-6d4a-4e7b-9c2d-1a5e8f0b7c63';
const URL_DESCRIPTION =
  'Where deliveries are POSTed: http or https, no credentials. A host that resolves to a loopback, private, link-local, metadata or unspecified address is refused (400) unless WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOW_PRIVATE_NETWORKS allows it; it is checked again at each delivery.';
const EVENTS_DESCRIPTION = 'The settling states to be told about; all three when left out';

/** The webhook fields of a submission and of a team webhook: where, and for which events. */
export class WebhookTargetDto {
  @ApiProperty({ example: 'https://hooks.example.com/objects', maxLength: 2000, description: URL_DESCRIPTION })
  @IsString()
  @MaxLength(2000)
  url!: string;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', enum: [...WEBHOOK_EVENTS] },
    example: ['completed', 'failed'],
    description: EVENTS_DESCRIPTION,
  })
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(WEBHOOK_EVENTS.length)
  @IsIn(WEBHOOK_EVENTS, { each: true })
  events?: WebhookEvent[];
}

export class CreateWebhookDto extends WebhookTargetDto {}

export class WebhookResponse {
  @ApiProperty({ format: 'uuid', example: WEBHOOK_ID }) id!: string;
  @ApiProperty({ example: 'billing' }) team!: string;
  @ApiProperty({ example: 'https://hooks.example.com/objects' }) url!: string;
  @ApiProperty({ type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENTS] }, example: ['completed', 'failed'] })
  events!: WebhookEvent[];
  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.000Z' }) created_at!: string;
}

export class CreatedWebhookResponse extends WebhookResponse {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0bA4f5Q3m1c=',
    description: "The signing secret (Standard Webhooks), shown this once: verify each delivery's webhook-signature with it",
  })
  secret!: string;
}

export class WebhookListResponse {
  @ApiProperty({ type: [WebhookResponse] }) items!: WebhookResponse[];
}

export class WebhookDeliveryResponse {
  @ApiProperty({
    format: 'uuid',
    example: '0e7c5b9a-2f1d-4c8e-b6a3-9d4f2e1c7b58',
    description: 'Sent as the webhook-id header, the same on every attempt',
  })
  id!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'uuid',
    example: WEBHOOK_ID,
    description: "The team webhook; null for the object's own webhook",
  })
  webhook_id!: string | null;
  @ApiProperty({ format: 'uuid', example: '550e8400-e29b-41d4-a716-446655440000' }) object_id!: string;
  @ApiProperty({ enum: [...WEBHOOK_EVENTS], example: 'completed' }) event!: WebhookEvent;
  @ApiProperty({
    enum: [...DELIVERY_STATUSES],
    example: 'pending',
    description: 'pending: not delivered yet (attempts go on); delivered: a 2xx answer; failed: no 2xx within WEBHOOK_RETRY_WINDOW_SECONDS',
  })
  status!: DeliveryStatus;
  @ApiProperty({ example: 2, description: 'Attempts made (or under way)' }) attempts!: number;
  @ApiProperty({ type: Number, nullable: true, example: 500, description: 'The HTTP status of the latest answer; null when none came' })
  last_status_code!: number | null;
  @ApiProperty({ type: String, nullable: true, example: 'HTTP 500: upstream unavailable', description: 'Why the latest attempt failed' })
  last_error!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    example: '2026-01-01T12:00:10.000Z',
    description: 'When the next attempt is due; null once delivered or failed',
  })
  next_attempt_at!: string | null;
  @ApiProperty({ format: 'date-time', example: '2026-01-01T12:00:00.000Z' }) created_at!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time', example: null }) delivered_at!: string | null;
}

export class WebhookDeliveryListResponse {
  @ApiProperty({ type: [WebhookDeliveryResponse], description: 'Newest first' }) items!: WebhookDeliveryResponse[];
}

export class DeliveriesQuery {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 100,
    example: 50,
    description: 'How many of the latest deliveries; 50 when left out',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}
