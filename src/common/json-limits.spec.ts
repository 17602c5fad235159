import fc from 'fast-check';
import { JsonTooDeepError, UnstorableCharacterError, checkJsonValue, jsonTextTooDeep } from './json-limits';

/** The reference: nesting depth of a parsed value, by plain recursion (test values are shallow). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

describe('jsonTextTooDeep', () => {
  it('agrees with the depth of the parsed value for any JSON text, brackets inside strings included', () => {
    const text = fc.oneof(fc.jsonValue({ maxDepth: 8 }), fc.string().map((value) => ({ s: `[{${value}\\"[` })));
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 9 }), (value, limit) => {
        expect(jsonTextTooDeep(JSON.stringify(value), limit)).toBe(depthOf(value) > limit);
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it('answers for text nested far beyond any stack', () => {
    expect(jsonTextTooDeep('['.repeat(1_000_000), 64)).toBe(true);
    expect(jsonTextTooDeep(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).toBe(false);
  });
});

describe('checkJsonValue', () => {
  it('refuses values nested beyond the limit without recursing, naming the field', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = [deep];
    expect(() => checkJsonValue('payload', deep, 64)).toThrow(JsonTooDeepError);
    expect(() => checkJsonValue('payload', JSON.parse(`${'['.repeat(64)}${']'.repeat(64)}`), 64)).not.toThrow();
  });

  it('names the path of a string or key with U+0000 or an unpaired surrogate, and lets paired surrogates through', () => {
    expect(() => checkJsonValue('metadata', { a: [{ b: 'x\u0000' }] })).toThrow(expect.objectContaining({ details: [expect.objectContaining({ field: 'metadata.a.0.b' })] }));
    expect(() => checkJsonValue('metadata', { a: { ['\udfff']: 1 } })).toThrow(UnstorableCharacterError);
    expect(() => checkJsonValue('metadata', { emoji: '😀', text: 'plain' })).not.toThrow();
  });
});
