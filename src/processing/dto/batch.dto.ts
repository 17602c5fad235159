import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ErrorResponse } from '../../common/error-response.dto';
import { SubmissionResponseDto } from './processing.responses';
import { SubmitObjectDto } from './submit-object.dto';

/** Most submissions one batch may hold. */
export const MAX_BATCH_ITEMS = 1000;

export class BatchSubmitDto {
  @ApiProperty({
    type: 'array',
    items: { $ref: getSchemaPath(SubmitObjectDto) },
    minItems: 1,
    maxItems: MAX_BATCH_ITEMS,
    description: 'Each item as the JSON body of POST /api/v1/process',
    example: [
      { identifier: 'invoice-1', operations: ['validate'], payload: { total: 12 } },
      { identifier: 'invoice-2', operations: ['validate', 'export'], payload: { total: 7 } },
    ],
  })
  objects!: SubmitObjectDto[];
}

export class BatchItemResponse {
  @ApiProperty({ example: 0, description: 'The position of the item in the request' }) index!: number;
  @ApiProperty({
    example: 202,
    description: '202 when the item was accepted; otherwise the status POST /api/v1/process would have answered it with',
  })
  status!: number;
  @ApiPropertyOptional({ type: SubmissionResponseDto, description: "The accepted item's answer (status 202)" })
  result?: SubmissionResponseDto;
  @ApiPropertyOptional({ type: ErrorResponse, description: 'Why the item was refused (any other status); nothing was written for it' })
  error?: ErrorResponse;
}

export class BatchResponseDto {
  @ApiProperty({ example: 1 }) accepted!: number;
  @ApiProperty({ example: 1 }) refused!: number;
  @ApiProperty({
    type: [BatchItemResponse],
    description: 'One per item, in the order of the request',
    example: [
      {
        index: 0,
        status: 202,
        result: {
          id: '550e8400-e29b-41d4-a716-446655440000',
          identifier: 'invoice-1',
          state: 'queued',
          task_id: '550e8400-e29b-41d4-a716-446655440000.1',
          message: 'Object queued for processing',
        },
      },
      {
        index: 1,
        status: 409,
        error: {
          statusCode: 409,
          error: 'Conflict',
          message: "An object with identifier 'invoice-2' already exists (id 7c9e6679-7425-40de-944b-e07fc1f90ae7)",
          code: 'identifier_taken',
        },
      },
    ],
  })
  items!: BatchItemResponse[];
}
