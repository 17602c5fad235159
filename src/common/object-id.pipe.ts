import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from './domain-errors';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path parameter that must be a UUID; anything else is a 400 in the one error shape. */
export function uuidPipe(field: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () => new ValidationError(`${field} must be a UUID`, [{ field, message: 'must be a UUID' }]),
  });
}

/** Object ids are UUIDs. */
export const ObjectIdPipe = uuidPipe('object_id');

/** Whether `value` has the shape of an object id (a UUID of any version). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
