import { chunksOf, streamOf } from '../../../test/support/chunks';
import { MAX_NESTING_DEPTH } from './content-limits';
import { describeDeepNesting, locateDeepNesting } from './nesting';

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
