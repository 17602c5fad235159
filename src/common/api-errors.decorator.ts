import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponse } from './error-response.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (malformed JSON, wrong types, bad identifier, unknown operation, non-UUID id)',
  404: 'No such object',
  409: 'Conflict: refused state transition, identifier taken, or Idempotency-Key reused with another body',
  413: 'Request body over the configured limit',
  415: 'Unsupported content type',
  503: 'PostgreSQL, Redis or S3 unavailable',
};

/** Documents the error responses of an endpoint, all in the one error shape. */
export function ApiErrors(...statuses: (keyof typeof DESCRIPTIONS)[]) {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponse })));
}
