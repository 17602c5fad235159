import { ApiParam } from '@nestjs/swagger';

/** A UUID path parameter, documented alike wherever it appears. */
export function ApiUuidParam(name: string, example: string, description?: string): MethodDecorator {
  return ApiParam({ name, format: 'uuid', example, ...(description === undefined ? {} : { description }) });
}

/** The `{object_id}` of a path: the id POST /api/v1/process returned. */
export function ApiObjectIdParam(): MethodDecorator {
  return ApiUuidParam('object_id', '550e8400-e29b-41d4-a716-446655440000', 'The id returned by POST /api/v1/process');
}

/** The `{object}` of /api/v1/objects/{object}: every method resolves it with ObjectsService.findByReference. */
export function ApiObjectReferenceParam(): MethodDecorator {
  return ApiParam({
    name: 'object',
    description:
      "The object's id (the UUID returned by POST /api/v1/process) or its identifier. A UUID is looked up as an id first, then as an identifier; anything else is an identifier.",
    schema: { type: 'string', maxLength: 200, example: 'object-123' },
  });
}
