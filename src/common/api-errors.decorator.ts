import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, type ApiResponseOptions, getSchemaPath } from '@nestjs/swagger';
import { ErrorCode } from './error-codes';
import { ErrorResponse } from './error-response.dto';

const OBJECT_ID = '550e8400-e29b-41d4-a716-446655440000';

type ErrorExample = { summary: string; value: ErrorResponse };

type ErrorStatus = { description: string; headers?: ApiResponseOptions['headers']; examples: Record<string, ErrorExample> };

function example(summary: string, statusCode: number, error: string, code: ErrorCode, message: string, details?: unknown): ErrorExample {
  return { summary, value: { statusCode, error, message, code, ...(details === undefined ? {} : { details }) } };
}

const ERRORS = {
  400: {
    description:
      'Invalid input (malformed JSON, wrong types, bad identifier, unknown operation, non-UUID id, a refused webhook destination)',
    examples: {
      validation_failed: example(
        'A field is missing or has the wrong type',
        400,
        'Bad Request',
        ErrorCode.ValidationFailed,
        'object_id must be a UUID',
        [{ field: 'object_id', message: 'must be a UUID' }],
      ),
      unknown_operation: example(
        'An operation that does not exist',
        400,
        'Bad Request',
        ErrorCode.UnknownOperation,
        'Unknown operation: resize. Valid operations: validate, transform, enrich, analyze, export, thumbnail',
        { unknown: ['resize'], valid: ['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail'] },
      ),
      malformed_json: example(
        'The body is not JSON',
        400,
        'Bad Request',
        ErrorCode.MalformedJson,
        "Body is not valid JSON but content-type is set to 'application/json'",
      ),
      json_too_deep: example(
        'metadata, options or payload nests deeper than 64 levels',
        400,
        'Bad Request',
        ErrorCode.JsonTooDeep,
        'body nests deeper than 65 levels (at line 1, column 97)',
        [{ field: 'body', message: 'nests deeper than 65 levels (at line 1, column 97)', limit: 65, line: 1, column: 97 }],
      ),
      unstorable_character: example(
        'U+0000 or an unpaired surrogate in a string or key',
        400,
        'Bad Request',
        ErrorCode.UnstorableCharacter,
        'metadata.note contains U+0000 or an unpaired surrogate, which cannot be stored',
        [{ field: 'metadata.note', message: 'contains U+0000 or an unpaired surrogate' }],
      ),
      json_schema_too_complex: example(
        'options.validate.json_schema over a limit (bytes 16384, depth 24, nodes 200, refs 50, patterns 20) or recursive',
        400,
        'Bad Request',
        ErrorCode.JsonSchemaTooComplex,
        'options.validate.json_schema: $ref at # is recursive (it can reach itself); recursive schemas are not accepted',
        { field: 'options.validate.json_schema', limit: 'recursion', at: '#' },
      ),
      unsupported_pattern: example(
        'A pattern the linear-time engine (RE2) cannot run',
        400,
        'Bad Request',
        ErrorCode.UnsupportedPattern,
        'options.validate.json_schema: the pattern "^(a)\\1$" cannot run on the linear-time engine (RE2: no backreferences or lookaround): error parsing regexp: invalid escape sequence: `\\1`',
        { field: 'options.validate.json_schema', pattern: '^(a)\\1$' },
      ),
      webhook_destination_refused: example(
        'A webhook URL that is not http(s), does not resolve, or resolves to a loopback, private, link-local or metadata address',
        400,
        'Bad Request',
        ErrorCode.WebhookDestinationRefused,
        "The webhook host 'localhost' resolves to 127.0.0.1, a loopback address; webhooks may not reach it (WEBHOOK_ALLOWED_HOSTS or WEBHOOK_ALLOW_PRIVATE_NETWORKS allow it)",
        [{ field: 'url', message: "The webhook host 'localhost' resolves to 127.0.0.1, a loopback address; …" }],
      ),
      malformed_request: example(
        'Refused by the HTTP parser: unknown method, malformed request line or header, bad percent-encoding',
        400,
        'Bad Request',
        ErrorCode.MalformedRequest,
        'The request is not valid HTTP (unknown method, or a malformed request line or header)',
      ),
    },
  },
  401: {
    description: 'No API key, or one that is malformed, unknown or revoked; or a stream token that has expired or is for another object',
    examples: {
      missing_key: example(
        'No Authorization header',
        401,
        'Unauthorized',
        ErrorCode.Unauthorized,
        'This route needs an API key: send the header Authorization: Bearer <key>',
      ),
      revoked_key: example('A revoked key', 401, 'Unauthorized', ErrorCode.Unauthorized, 'This API key has been revoked'),
    },
  },
  403: {
    description:
      'The API key lacks the scope the route needs (read, write or admin); or, for a state-changing request, a browser sent it from another site (Sec-Fetch-Site, or an Origin that is neither this host nor in CORS_ALLOWED_ORIGINS)',
    examples: {
      insufficient_scope: example(
        'A read-only key submits',
        403,
        'Forbidden',
        ErrorCode.InsufficientScope,
        "This API key lacks the 'write' scope (it has: read)",
        {
          needed: 'write',
          held: ['read'],
        },
      ),
      cross_site_request: example(
        'A form or script on another site tried to change something',
        403,
        'Forbidden',
        ErrorCode.CrossSiteRequest,
        "Cross-site request refused: origin 'https://evil.example' may not change anything here",
        { origin: 'https://evil.example' },
      ),
    },
  },
  404: {
    description: 'No such object (or one of another team)',
    examples: {
      object_not_found: example(
        'No object has this id or identifier',
        404,
        'Not Found',
        ErrorCode.ObjectNotFound,
        `Object ${OBJECT_ID} not found`,
      ),
      api_key_not_found: example(
        'No API key has this id',
        404,
        'Not Found',
        ErrorCode.ApiKeyNotFound,
        'API key 8d0f1c9e-3b7a-4c55-9a0e-2f4b6d8c1a37 not found',
      ),
      webhook_not_found: example(
        "No webhook of the caller's team has this id",
        404,
        'Not Found',
        ErrorCode.WebhookNotFound,
        'Webhook 3f2b8c1e-6d4a-4e7b-9c2d-1a5e8f0b7c63 not found',
      ),
    },
  },
  409: {
    description: 'Conflict: refused state transition, identifier taken, or Idempotency-Key reused with another body',
    examples: {
      invalid_transition: example(
        'The state machine refuses the change',
        409,
        'Conflict',
        ErrorCode.InvalidTransition,
        "Cannot change state from 'completed' to 'cancelled'",
        {
          current_state: 'completed',
          attempted_state: 'cancelled',
        },
      ),
      identifier_taken: example(
        'Another object has this identifier',
        409,
        'Conflict',
        ErrorCode.IdentifierTaken,
        `An object with identifier 'object-123' already exists (id ${OBJECT_ID})`,
        { id: OBJECT_ID, identifier: 'object-123', state: 'processing' },
      ),
      idempotency_key_reused: example(
        'The Idempotency-Key came with another body',
        409,
        'Conflict',
        ErrorCode.IdempotencyKeyReused,
        'This Idempotency-Key was used with a different request body',
        {
          id: OBJECT_ID,
        },
      ),
      object_busy: example(
        'The object is processing',
        409,
        'Conflict',
        ErrorCode.ObjectBusy,
        `Object ${OBJECT_ID} is processing; cancel it before deleting it`,
      ),
    },
  },
  413: {
    description:
      'Request body over the configured limit: a JSON body over PAYLOAD_LIMIT_BYTES, an uploaded file over UPLOAD_LIMIT_BYTES (nothing is kept)',
    examples: {
      payload_too_large: example(
        'The body is over the limit',
        413,
        'Payload Too Large',
        ErrorCode.PayloadTooLarge,
        'Request body is too large',
      ),
      file_too_large: example(
        'An uploaded file is over the limit',
        413,
        'Payload Too Large',
        ErrorCode.PayloadTooLarge,
        'The file is larger than the upload limit of 104857600 bytes',
        {
          limit_bytes: 104857600,
        },
      ),
    },
  },
  415: {
    description:
      'Unsupported content type: a request body that is neither JSON nor multipart/form-data, or an uploaded file of a type the service cannot process',
    examples: {
      unsupported_media_type: example(
        'The body is neither application/json nor multipart/form-data',
        415,
        'Unsupported Media Type',
        ErrorCode.UnsupportedMediaType,
        'Unsupported Media Type',
      ),
      unsupported_upload: example(
        'An uploaded file of a type the service cannot process',
        415,
        'Unsupported Media Type',
        ErrorCode.UnsupportedMediaType,
        'Unsupported content type: application/pdf (detected from the content). Supported: image/jpeg, image/png, image/webp, image/gif, image/avif, image/tiff, application/json, application/x-ndjson, text/csv, text/plain',
        {
          supported: [
            'image/jpeg',
            'image/png',
            'image/webp',
            'image/gif',
            'image/avif',
            'image/tiff',
            'application/json',
            'application/x-ndjson',
            'text/csv',
            'text/plain',
          ],
        },
      ),
    },
  },
  429: {
    description:
      'Too many: the team has TEAM_MAX_QUEUED_OBJECTS objects waiting (submissions), or the client holds SSE_MAX_STREAMS_PER_CLIENT open progress streams (the stream); Retry-After says when to try again',
    headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', example: 5 } } },
    examples: {
      team_queue_full: example(
        "The team's queue is full",
        429,
        'Too Many Requests',
        ErrorCode.TeamQueueFull,
        "Team 'billing' has 10000 objects waiting, its cap; submit again once some have started",
        {
          team: 'billing',
          cap: 10000,
        },
      ),
      too_many_streams: example(
        'The client has its share of streams open',
        429,
        'Too Many Requests',
        ErrorCode.TooManyStreams,
        'This client already has 50 progress streams open, the most allowed (SSE_MAX_STREAMS_PER_CLIENT); close one first',
        { limit: 50 },
      ),
    },
  },
  503: {
    description: 'PostgreSQL, Redis or S3 unavailable; the message and details name which',
    examples: {
      dependency_unavailable: example(
        'A backing service is down',
        503,
        'Service Unavailable',
        ErrorCode.DependencyUnavailable,
        'A backing service is unavailable; try again shortly',
      ),
    },
  },
} satisfies Record<number, ErrorStatus>;

/**
 * Documents the error responses of an endpoint, all in the one error shape, with an example of
 * every error code a status can carry. Errors are always JSON, also on endpoints that produce
 * another media type (the SSE stream), so the content is explicit.
 */
export function ApiErrors(...statuses: (keyof typeof ERRORS)[]) {
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: ERRORS[status].description,
        headers: (ERRORS[status] as ErrorStatus).headers,
        content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponse) }, examples: ERRORS[status].examples } },
      }),
    ),
  );
}

/** The 503 of the readiness probes (/health, /health/ready): the error shape, with the Terminus result in details. */
export function ApiNotReadyError() {
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ApiResponse({
      status: 503,
      description: 'Not ready: a dependency is unreachable, or the process is shutting down',
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(ErrorResponse) },
          examples: {
            not_ready: example('Redis does not answer', 503, 'Service Unavailable', ErrorCode.NotReady, 'Not ready: redis unavailable', {
              status: 'error',
              info: { database: { status: 'up' }, s3: { status: 'up' } },
              error: { redis: { status: 'down', message: 'no answer within 2000 ms' } },
              details: { database: { status: 'up' }, redis: { status: 'down', message: 'no answer within 2000 ms' }, s3: { status: 'up' } },
            }),
            shutting_down: example(
              'The process received SIGTERM',
              503,
              'Service Unavailable',
              ErrorCode.NotReady,
              'Not ready: shutting down',
            ),
          },
        },
      },
    }),
  );
}

/** The 503 of the progress stream: a backing service down, or this instance serving SSE_MAX_STREAMS streams (with Retry-After). */
export function ApiStreamUnavailableError() {
  return applyDecorators(
    ApiExtraModels(ErrorResponse),
    ApiResponse({
      status: 503,
      description: `${ERRORS[503].description}; or this instance already serves SSE_MAX_STREAMS progress streams (streams_at_capacity, with Retry-After)`,
      headers: {
        'Retry-After': {
          description: 'Seconds to wait before trying again (with streams_at_capacity)',
          schema: { type: 'integer', example: 5 },
        },
      },
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(ErrorResponse) },
          examples: {
            ...ERRORS[503].examples,
            streams_at_capacity: example(
              'This instance serves as many progress streams as it takes',
              503,
              'Service Unavailable',
              ErrorCode.StreamsAtCapacity,
              'This instance already serves 1000 progress streams, the most it takes (SSE_MAX_STREAMS); try again shortly',
              { limit: 1000 },
            ),
          },
        },
      },
    }),
  );
}
