import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorCode } from './error-codes';

export class ErrorResponse {
  @ApiProperty({ example: 409 })
  statusCode!: number;

  @ApiProperty({ example: 'Conflict' })
  error!: string;

  @ApiProperty({ example: "Cannot change state from 'completed' to 'cancelled'" })
  message!: string;

  @ApiProperty({ enum: Object.values(ErrorCode), example: ErrorCode.InvalidTransition })
  code!: string;

  @ApiPropertyOptional({
    description: 'Structured detail: offending fields, current state, existing id',
    example: { current_state: 'completed', attempted_state: 'cancelled' },
    oneOf: [
      { type: 'object', additionalProperties: true },
      { type: 'array', items: {} },
    ],
  })
  details?: unknown;
}
