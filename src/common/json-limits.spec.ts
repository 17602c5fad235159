import fc from 'fast-check';
import { JsonTooDeepError, UnstorableCharacterError, checkJsonTextDepth, checkJsonValue } from './json-limits';

describe('checkJsonTextDepth', () => {
  it('refuses text nested beyond the limit, far beyond any stack, saying where', () => {
    expect(() => checkJsonTextDepth('body', '['.repeat(1_000_000), 64)).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ field: 'body', line: 1, column: 65 })] }) as Error,
    );
    expect(() => checkJsonTextDepth('body', `${'['.repeat(64)}${']'.repeat(64)}`, 64)).not.toThrow();
    expect(() => checkJsonTextDepth('body', JSON.stringify({ s: '['.repeat(100) }), 64)).not.toThrow();
  });
});

describe('checkJsonValue', () => {
  it('refuses values nested beyond the limit without recursing, naming the field', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) {
      deep = [deep];
    }
    expect(() => checkJsonValue('payload', deep, 64)).toThrow(JsonTooDeepError);
    expect(() => checkJsonValue('payload', JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`), 64)).not.toThrow();
  });

  it('names the path of a string or key with U+0000 or an unpaired surrogate, and lets paired surrogates through', () => {
    expect(() => checkJsonValue('metadata', { a: [{ b: 'x\u0000' }] })).toThrow(
      expect.objectContaining({ details: [expect.objectContaining({ field: 'metadata.a.0.b' })] }) as Error,
    );
    expect(() => checkJsonValue('metadata', { a: { ['\udfff']: 1 } })).toThrow(UnstorableCharacterError);
    expect(() => checkJsonValue('metadata', { emoji: '😀', text: 'plain' })).not.toThrow();
  });

  it('refuses exactly what a recursive reference refuses, for any JSON value (unpaired surrogates and U+0000 among its characters)', () => {
    const awkward = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\ud83d', '\ude00b', '😀', 'plain', ''),
    );
    const values = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        awkward,
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(awkward, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const reference = (value: unknown, depth: number, limit: number): boolean =>
      typeof value === 'string'
        ? !/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)
        : value === null || typeof value !== 'object'
          ? true
          : depth + 1 <= limit &&
            Object.entries(value).every(([key, child]) => reference(key, depth + 1, limit) && reference(child, depth + 1, limit));
    fc.assert(
      fc.property(values, fc.integer({ min: 1, max: 5 }), (value, limit) => {
        const refused = (() => {
          try {
            checkJsonValue('payload', value, limit);
            return false;
          } catch (error) {
            expect(error instanceof JsonTooDeepError || error instanceof UnstorableCharacterError).toBe(true);
            return true;
          }
        })();
        expect(refused).toBe(!reference(value, 0, limit));
      }),
      { numRuns: 2000 },
    );
  });
});
