import { ParseUUIDPipe } from '@nestjs/common';
import { ValidationError } from './domain-errors';

/** Object ids are UUIDs; anything else is a 400 in the one error shape. */
export const ObjectIdPipe = new ParseUUIDPipe({
  exceptionFactory: () => new ValidationError('object_id must be a UUID', [{ field: 'object_id', message: 'must be a UUID' }]),
});
