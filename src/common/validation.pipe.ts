import { ValidationError as ClassValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationError } from './domain-errors';

function flatten(errors: ClassValidationError[], parent = ''): { field: string; message: string }[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Request validation with the one error shape: every offending field in `details`. */
export const validationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  exceptionFactory: (errors) => {
    const problems = flatten(errors);
    return new ValidationError(problems.map((problem) => problem.message).join('; '), problems);
  },
});
