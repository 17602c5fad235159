import { errorFingerprint } from './error-fingerprint';

describe('errorFingerprint', () => {
  it('is the same for messages that differ only in numbers and ids, and 16 hex digits', () => {
    const first = errorFingerprint(
      'invalid_content',
      'validate: line 12, column 3: unexpected token in object 550e8400-e29b-41d4-a716-446655440000',
    );
    const second = errorFingerprint(
      'invalid_content',
      'validate: line 7, column 41: unexpected token in object 00000000-0000-4000-8000-000000000001',
    );
    expect(first).toBe(second);
    expect(first).toMatch(/^[0-9a-f]{16}$/);
  });

  it('differs for another code or another wording', () => {
    const message = 'transform failed after 5 attempt(s): S3 refused';
    expect(errorFingerprint('operation_failed', message)).not.toBe(errorFingerprint('budget_exceeded', message));
    expect(errorFingerprint('operation_failed', message)).not.toBe(
      errorFingerprint('operation_failed', 'transform failed after 5 attempt(s): S3 timed out'),
    );
  });
});
