import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IDENTIFIER_RULE } from '../../objects/identifier';
import { DOCUMENTED_OPERATIONS } from './operation-names';

/**
 * The multipart/form-data form of POST /api/v1/process, for the OpenAPI document only: the
 * controller reads the parts itself and validates them with SubmitObjectDto's rules.
 * The fields must come before the file.
 */
export class SubmitUploadFormDto {
  @ApiProperty({
    example: 'customers-2024',
    description: `Client-chosen unique name: ${IDENTIFIER_RULE}. Becomes the S3 key prefix.`,
    maxLength: 200,
  })
  identifier!: string;

  @ApiProperty({
    example: ['validate', 'transform'],
    description:
      'Operations to run: the field repeated once per name (also accepted: one field holding a JSON array or a comma-separated list).',
    type: 'array',
    items: { type: 'string', enum: DOCUMENTED_OPERATIONS },
  })
  operations!: string[];

  @ApiPropertyOptional({ example: '{"source":"crm"}', description: 'Free JSON object attached to the object, as a JSON string' })
  metadata?: string;

  @ApiPropertyOptional({
    example: '{"export":{"format":"csv"}}',
    description: 'Per-operation options, as a JSON string (see the JSON body)',
  })
  options?: string;

  @ApiPropertyOptional({ example: 5, description: '1 (lowest) to 10 (highest); 5 when left out', type: 'integer', minimum: 1, maximum: 10 })
  priority?: number;

  @ApiPropertyOptional({
    example: '{"url":"https://hooks.example.com/objects","events":["completed","failed"]}',
    description: "This object's own webhook, as a JSON string (see the JSON body); its secret is webhook_secret in the 202",
  })
  webhook?: string;

  @ApiProperty({
    type: 'string',
    format: 'binary',
    example: 'id,name\n1,Ada\n',
    description:
      "The content, last in the form, streamed to S3 (limit UPLOAD_LIMIT_BYTES, 100 MiB by default; 413 beyond). Images (JPEG, PNG, WebP, GIF, AVIF, TIFF) are recognised by their bytes; JSON, NDJSON, CSV and UTF-8 text by the part's media type or the file name's extension. Anything else is 415.",
  })
  file!: string;
}
