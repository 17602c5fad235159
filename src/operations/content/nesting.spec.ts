import { chunksOf, streamOf } from '../../../test/support/chunks';
import { MAX_NESTING_DEPTH } from './content-limits';
import { NestingGauge, deepNestingIn, describeDeepNesting, locateDeepNesting } from './nesting';

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
    for (const chunk of ['["a\\', '"[', '"', ',\n', ' [']) expect(gauge.write(chunk)).toBeUndefined();
    expect(gauge.write('[')).toEqual({ line: 2, column: 3 });
  });
});

describe('deepNestingIn', () => {
  it('does not look at text too short to nest past the limit', () => {
    expect(deepNestingIn('['.repeat(MAX_NESTING_DEPTH))).toBeUndefined();
    expect(deepNestingIn('['.repeat(MAX_NESTING_DEPTH + 1))).toEqual({ line: 1, column: MAX_NESTING_DEPTH + 1 });
  });
});

describe('locateDeepNesting', () => {
  it('reads a stream in odd chunks only as far as the problem', async () => {
    const text = `${'  '.repeat(10)}\n${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    for (const size of [1, 7, 65_537, Infinity]) {
      expect(await locateDeepNesting(streamOf(chunksOf(Buffer.from(text), size)))).toEqual({ line: 2, column: MAX_NESTING_DEPTH + 1 });
    }
  });

  it('says nothing for content within the limit', async () => {
    const text = '['.repeat(MAX_NESTING_DEPTH) + ']'.repeat(MAX_NESTING_DEPTH);
    expect(await locateDeepNesting(streamOf([Buffer.from(text)]))).toBeUndefined();
  });

  it('is described with the limit and the place', () => {
    expect(describeDeepNesting('JSON', { line: 3, column: 9 })).toBe(`JSON nesting deeper than ${MAX_NESTING_DEPTH} at line 3, column 9`);
  });
});
