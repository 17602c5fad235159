import { NestingGauge, deepNestingIn } from './json-nesting';

const LIMIT = 256;

describe('NestingGauge', () => {
  it('finds the bracket that opens one level too many, by line and column', () => {
    expect(new NestingGauge(2).write('{"a":\n  [[1]]}')).toEqual({ line: 2, column: 4 });
  });

  it('allows exactly the limit', () => {
    expect(new NestingGauge(3).write('[[[1]],{"a":[2]}]')).toBeUndefined();
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(new NestingGauge(1).write('["[[{", "\\"[[", "\\\\", {}]')).toEqual({ line: 1, column: 23 });
    expect(new NestingGauge(1).write('["[[{", "\\"[[", "\\\\"]')).toBeUndefined();
  });

  it('keeps its place across chunks, a string or an escape cut in two included', () => {
    const gauge = new NestingGauge(2);
    for (const chunk of ['["a\\', '"[', '"', ',\n', ' [']) {
      expect(gauge.write(chunk)).toBeUndefined();
    }
    expect(gauge.write('[')).toEqual({ line: 2, column: 3 });
  });
});

describe('deepNestingIn', () => {
  it('does not look at text too short to nest past the limit', () => {
    expect(deepNestingIn('['.repeat(LIMIT), LIMIT)).toBeUndefined();
    expect(deepNestingIn('['.repeat(LIMIT + 1), LIMIT)).toEqual({ line: 1, column: LIMIT + 1 });
  });
});
