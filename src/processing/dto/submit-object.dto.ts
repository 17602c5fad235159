import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { WebhookTargetDto } from '../../webhooks/dto/webhooks.dto';
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from '../../objects/identifier';
import { DOCUMENTED_OPERATIONS } from './operation-names';

export class SubmitObjectDto {
  @ApiProperty({
    example: 'object-123',
    description: `Client-chosen unique name: ${IDENTIFIER_RULE}. Becomes the S3 key prefix.`,
    maxLength: 200,
  })
  @IsString()
  @Matches(IDENTIFIER_PATTERN, { message: `identifier must be ${IDENTIFIER_RULE}` })
  identifier!: string;

  @ApiProperty({
    example: ['validate', 'transform', 'analyze'],
    description: 'Operations to run; their dependencies are added.',
    type: 'array',
    items: { type: 'string', enum: DOCUMENTED_OPERATIONS },
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  operations!: string[];

  @ApiPropertyOptional({
    description: 'Inline JSON content to process. Without it, operations run on the metadata document {identifier, metadata}.',
    example: [
      { name: 'a', value: 1 },
      { name: 'b', value: 2.5 },
    ],
    oneOf: [
      { type: 'object', additionalProperties: true },
      { type: 'array', items: {} },
      { type: 'string' },
      { type: 'number' },
      { type: 'boolean' },
    ],
  })
  @IsOptional()
  payload?: unknown;

  @ApiPropertyOptional({
    description: 'Free JSON attached to the object',
    example: { source: 'crm' },
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Per-operation options: validate.json_schema (a JSON Schema the content must match), export.format (ndjson, json or csv)',
    example: { export: { format: 'csv' } },
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  options?: Record<string, unknown>;

  // No `default`: generators make defaulted properties required (openapi-typescript does), so the default is in words.
  @ApiPropertyOptional({ description: '1 (lowest) to 10 (highest); 5 when left out', type: 'integer', minimum: 1, maximum: 10, example: 5 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  priority?: number;

  @ApiPropertyOptional({
    type: WebhookTargetDto,
    description:
      "This object's own webhook: told when it completes, fails or is cancelled (the events chosen). Deliveries are signed with a secret made for this object, returned once as webhook_secret in the 202.",
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => WebhookTargetDto)
  webhook?: WebhookTargetDto;
}
