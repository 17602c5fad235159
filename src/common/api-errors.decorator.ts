import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ErrorResponse } from './error-response.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (malformed JSON, wrong types, bad identifier, unknown operation, non-UUID id)',
  404: 'No such object',
  409: 'Conflict: refused state transition, identifier taken, or Idempotency-Key reused with another body',
  413: 'Request body over the configured limit',
  415: 'Unsupported content type',
  503: 'PostgreSQL, Redis or S3 unavailable; the message and details name which',
};

/**
 * Documents the error responses of an endpoint, all in the one error shape. Errors are always
 * JSON, also on endpoints that produce another media type (the SSE stream), so the content is explicit.
 */
export function ApiErrors(...statuses: (keyof typeof DESCRIPTIONS)[]) {
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status], content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponse) } } } }),
    ),
  );
}
