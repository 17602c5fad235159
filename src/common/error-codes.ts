export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  MalformedJson: 'malformed_json',
  InvalidIdentifier: 'invalid_identifier',
  UnknownOperation: 'unknown_operation',
  ObjectNotFound: 'object_not_found',
  IdentifierTaken: 'identifier_taken',
  IdempotencyKeyReused: 'idempotency_key_reused',
  InvalidTransition: 'invalid_transition',
  ObjectBusy: 'object_busy',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  RouteNotFound: 'route_not_found',
  DependencyUnavailable: 'dependency_unavailable',
  NotReady: 'not_ready',
  InternalError: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
