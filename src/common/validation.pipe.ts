import { ValidationError as ClassValidationError, Type, ValidationPipe } from '@nestjs/common';
import { ValidationError } from './domain-errors';

/** class-validator's nested errors as one list of {field, message}, fields as dotted paths. */
export function flattenValidationErrors(errors: ClassValidationError[], parent = ''): { field: string; message: string }[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** Request validation with the one error shape: every offending field in `details`. */
export const validationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  exceptionFactory: (errors) => {
    const problems = flattenValidationErrors(errors);
    return new ValidationError(problems.map((problem) => problem.message).join('; '), problems);
  },
});

/**
 * Validates a body the global pipe never saw (a multipart form's fields, a body read from the
 * request itself) with exactly the rules and error shape of @Body(): the same pipe does it.
 */
export async function validateBody<T extends object>(metatype: Type<T>, value: unknown): Promise<T> {
  return (await validationPipe.transform(value, { type: 'body', metatype })) as T;
}
