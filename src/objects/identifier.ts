/** 1–200 characters of [A-Za-z0-9._-], not starting with '.', never containing '..': safe as an S3 key prefix. */
export const IDENTIFIER_PATTERN = /^(?!\.)(?!.*\.\.)[A-Za-z0-9._-]{1,200}$/;

export const IDENTIFIER_RULE = "1-200 characters of A-Z, a-z, 0-9, '.', '_' or '-', not starting with '.' and without '..'";

export function isValidIdentifier(value: unknown): value is string {
  return typeof value === 'string' && IDENTIFIER_PATTERN.test(value);
}
