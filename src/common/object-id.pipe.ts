import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from './domain-errors';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Object ids are UUIDs; anything else is a 400 in the one error shape. */
export const ObjectIdPipe = new ParseUUIDPipe({
  exceptionFactory: () => new ValidationError('object_id must be a UUID', [{ field: 'object_id', message: 'must be a UUID' }]),
});

/** Whether `value` has the shape of an object id (a UUID of any version). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
