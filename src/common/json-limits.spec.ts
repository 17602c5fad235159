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
});
