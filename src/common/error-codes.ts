export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  MalformedJson: 'malformed_json',
  /** A JSON body or field nested deeper than MAX_JSON_DEPTH. */
  JsonTooDeep: 'json_too_deep',
  /** U+0000 or an unpaired surrogate in a string or key that would be stored in PostgreSQL. */
  UnstorableCharacter: 'unstorable_character',
  /** options.validate.json_schema over a size, depth, keyword or recursion limit. */
  JsonSchemaTooComplex: 'json_schema_too_complex',
  /** A `pattern` or `patternProperties` the linear-time regular expression engine (RE2) cannot run. */
  UnsupportedPattern: 'unsupported_pattern',
  /** A request the HTTP parser refused: unknown method, malformed request line or header, bad URL encoding. */
  MalformedRequest: 'malformed_request',
  UriTooLong: 'uri_too_long',
  HeadersTooLarge: 'headers_too_large',
  RequestTimeout: 'request_timeout',
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
  /** A client over one of its rate limits (requests or submissions per window). */
  RateLimited: 'rate_limited',
  DependencyUnavailable: 'dependency_unavailable',
  NotReady: 'not_ready',
  /** No API key, an unknown or revoked one, or a stream token that is expired or for another object; also the queue dashboard without valid credentials. */
  Unauthorized: 'unauthorized',
  /** A valid API key without the scope the route needs. */
  InsufficientScope: 'insufficient_scope',
  ApiKeyNotFound: 'api_key_not_found',
  /** The team has TEAM_MAX_QUEUED_OBJECTS objects waiting already. */
  TeamQueueFull: 'team_queue_full',
  /** A state-changing request a browser sent from another site (Sec-Fetch-Site, or an Origin neither this host nor an allowed CORS origin). */
  CrossSiteRequest: 'cross_site_request',
  /** The client already holds SSE_MAX_STREAMS_PER_CLIENT open progress streams. */
  TooManyStreams: 'too_many_streams',
  /** This process already serves SSE_MAX_STREAMS open progress streams. */
  StreamsAtCapacity: 'streams_at_capacity',
  WebhookNotFound: 'webhook_not_found',
  /** A webhook URL that is not http(s), does not resolve, or resolves to an address webhooks may not reach (loopback, private, link-local, metadata). */
  WebhookDestinationRefused: 'webhook_destination_refused',
  InternalError: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
