import { JSON_SCHEMA_LIMITS, JsonSchemaRefusedError, checkJsonSchemaLimits, linearRegExp } from './json-schema-guard';

const refusal = (schema: Record<string, unknown>) => {
  try {
    checkJsonSchemaLimits(schema);
  } catch (error) {
    expect(error).toBeInstanceOf(JsonSchemaRefusedError);
    return (error as JsonSchemaRefusedError).details;
  }
  return undefined;
};

describe('checkJsonSchemaLimits', () => {
  it('refuses every recursive $ref, direct, through definitions, or under a data keyword it descends into', () => {
    expect(refusal({ $ref: '#' })).toMatchObject({ limit: 'recursion' });
    expect(refusal({ properties: { a: { items: { $ref: '#/properties/a' } } } })).toMatchObject({ limit: 'recursion' });
    expect(
      refusal({ $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/c' }, c: { anyOf: [{ $ref: '#/$defs/a' }] } }, $ref: '#/$defs/a' }),
    ).toMatchObject({ limit: 'recursion' });
    expect(refusal({ $defs: { 'a/b': { $ref: '#/$defs/a~1b' } } })).toMatchObject({ limit: 'recursion' });
  });

  it('accepts references that do not recurse, and $ref text inside data keywords', () => {
    expect(
      refusal({
        $defs: { a: { type: 'string' }, b: { $ref: '#/$defs/a' } },
        properties: { x: { $ref: '#/$defs/b' }, y: { $ref: '#/$defs/a' } },
      }),
    ).toBeUndefined();
    expect(refusal({ const: { $ref: '#' }, enum: [{ $ref: 'http://example.com' }] })).toBeUndefined();
  });

  it('refuses references it cannot follow', () => {
    expect(refusal({ $ref: 'other.json' })).toMatchObject({ keyword: '$ref' });
    expect(refusal({ properties: { a: { $id: 'urn:a', $ref: '#' } } })).toMatchObject({ keyword: '$id' });
    expect(refusal({ $dynamicRef: '#meta' })).toMatchObject({ keyword: '$dynamicRef' });
    expect(refusal({ $id: 'urn:root', type: 'object' })).toBeUndefined();
  });

  it('names the limit a schema is over', () => {
    const refs = Object.fromEntries(
      Array.from({ length: JSON_SCHEMA_LIMITS.refs + 1 }, (_, index) => [`p${index}`, { $ref: '#/$defs/a' }]),
    );
    expect(refusal({ $defs: { a: {} }, properties: refs })).toMatchObject({ limit: 'refs' });
    expect(refusal({ enum: Array.from({ length: JSON_SCHEMA_LIMITS.nodes + 1 }, (_, index) => index) })).toMatchObject({ limit: 'nodes' });
    const patterns = Object.fromEntries(
      Array.from({ length: JSON_SCHEMA_LIMITS.patterns }, (_, index) => [`p${index}`, { pattern: `^${index}$` }]),
    );
    expect(refusal({ properties: patterns })).toBeUndefined();
    expect(refusal({ properties: patterns, patternProperties: { '^x': {} } })).toMatchObject({ limit: 'patterns' });
  });
});

describe('linearRegExp', () => {
  it('finds matches anywhere, like RegExp#test, in time linear in the input', () => {
    expect(linearRegExp('b+').test('abbc')).toBe(true);
    expect(linearRegExp('^\\u0041$').test('A')).toBe(true);
    expect(linearRegExp('^(a+)+$').test(`${'a'.repeat(100_000)}!`)).toBe(false);
  });

  it('refuses backreferences and lookaround with unsupported_pattern', () => {
    for (const pattern of ['(a)\\1', '(?=a)', '(?<!a)b']) {
      expect(() => linearRegExp(pattern)).toThrow(expect.objectContaining({ code: 'unsupported_pattern' }) as Error);
    }
  });
});
