import { Readable } from 'node:stream';
import { MAX_VALUE_CHARACTERS } from './content-limits';
import { TermCounter, TextCounter, canonicalText, incompleteTail, longestValidPrefix, strictUtf8 } from './text';

const chunked = (bytes: Buffer, size: number) => {
  const chunks = [];
  for (let start = 0; start < bytes.length; start += size) {
    chunks.push(bytes.subarray(start, start + size));
  }
  return Readable.from(chunks);
};

const collect = async (chunks: AsyncIterable<string>) => {
  let text = '';
  for await (const chunk of chunks) {
    text += chunk;
  }
  return text;
};

describe('strictUtf8', () => {
  it('decodes characters split across chunks', async () => {
    const text = 'añ€😀\nzß';
    for (const size of [1, 2, 3, 5]) {
      expect(await collect(strictUtf8(chunked(Buffer.from(text), size)))).toBe(text);
    }
  });

  it('names the byte offset and line of the first invalid byte, whatever the chunking', async () => {
    const bytes = Buffer.concat([Buffer.from('ok\nstill ok é\nbad '), Buffer.from([0xc3, 0x28]), Buffer.from(' tail')]);
    const offset = Buffer.byteLength('ok\nstill ok é\nbad ');
    for (const size of [1, 2, 4, 7, 100]) {
      await expect(collect(strictUtf8(chunked(bytes, size)))).rejects.toThrow(`Invalid UTF-8 at byte ${offset} (line 3)`);
    }
  });

  it('refuses content that ends inside a character', async () => {
    await expect(collect(strictUtf8(chunked(Buffer.from([0x61, 0xe2, 0x82]), 1)))).rejects.toThrow(
      'Invalid UTF-8 at byte 1 (line 1): the content ends inside a character',
    );
  });

  it('helpers find incomplete tails and valid prefixes', () => {
    expect(incompleteTail(Buffer.from([0x61, 0xe2, 0x82]))).toBe(2);
    expect(incompleteTail(Buffer.from('€'))).toBe(0);
    expect(longestValidPrefix(Buffer.from([0x61, 0x62, 0xff, 0x63]))).toBe(2);
  });
});

describe('canonicalText', () => {
  it('is NFC with \\n line endings and no BOM, the same however the text is cut', async () => {
    const text = '\uFEFFCafe\u0301 line\r\nnext\rlast A\u030A\r\n';
    const expected = 'Caf\u00e9 line\nnext\nlast \u00c5\n';
    for (let cut = 1; cut < text.length; cut++) {
      const chunks = [text.slice(0, cut), text.slice(cut)];
      expect(await collect(canonicalText(Readable.from(chunks)))).toBe(expected);
    }
  });
});

describe('canonicalText on text with no place to cut', () => {
  it('cuts a run of combining marks past the held-back limit, so what it holds does not grow with the text', async () => {
    const marks = '\u0301'.repeat(200_000);
    const chunks = [];
    for (let start = 0; start < marks.length; start += 10_000) {
      chunks.push(marks.slice(start, start + 10_000));
    }
    const yielded: string[] = [];
    for await (const chunk of canonicalText(Readable.from(chunks))) {
      yielded.push(chunk);
    }
    expect(yielded.join('')).toBe(marks);
    expect(Math.max(...yielded.map((chunk) => chunk.length))).toBeLessThanOrEqual(64 * 1024 + 10_000);
  });
});

describe('TextCounter', () => {
  it('counts bytes, characters, words and lines', () => {
    const counter = new TextCounter();
    counter.add('héllo wo');
    counter.add('rld\n\nthird 😀 line');
    expect(counter.summary()).toEqual({ bytes: Buffer.byteLength('héllo world\n\nthird 😀 line'), characters: 25, words: 5, lines: 3 });
  });
});

describe('TermCounter', () => {
  it('counts terms case-insensitively across chunks', () => {
    const terms = new TermCounter();
    terms.add('The cat and the ca');
    terms.add("t's friend: THE dog. Don't");
    expect(terms.summary(3)).toEqual({
      total_terms: 9,
      distinct_terms: 7,
      exact: true,
      top_terms: [
        { term: 'the', count: 3 },
        { term: 'and', count: 1 },
        { term: 'cat', count: 1 },
      ],
    });
  });

  it('stays within its capacity and says the result is approximate', () => {
    const terms = new TermCounter(100);
    for (let index = 0; index < 1000; index++) {
      terms.add(`common rare${index} `);
    }
    const summary = terms.summary(1);
    expect(summary.distinct_terms).toBeLessThanOrEqual(101);
    expect(summary.exact).toBe(false);
    expect(summary.top_terms).toEqual([{ term: 'common', count: 1000 }]);
  });

  it(`counts a word longer than ${MAX_VALUE_CHARACTERS} characters once, by its first ones, whatever the chunks`, () => {
    const word = 'a'.repeat(80_000);
    for (const size of [80_001, 64 * 1024, 1000, 7]) {
      const terms = new TermCounter();
      const text = `${word}! Done`;
      for (let start = 0; start < text.length; start += size) {
        terms.add(text.slice(start, start + size));
      }
      const summary = terms.summary(5);
      expect(summary).toEqual({
        total_terms: 2,
        distinct_terms: 2,
        exact: true,
        top_terms: [
          { term: 'a'.repeat(MAX_VALUE_CHARACTERS), count: 1 },
          { term: 'done', count: 1 },
        ],
      });
    }
  });

  it('keeps words split between chunks whole, astral letters included', () => {
    const terms = new TermCounter();
    for (const chunk of ['x', '𝒜y an', 'd x𝒜', 'y', '', ' x', '𝒜', 'y']) {
      terms.add(chunk);
    }
    expect(terms.summary(2)).toMatchObject({
      total_terms: 4,
      top_terms: [
        { term: 'x𝒜y', count: 3 },
        { term: 'and', count: 1 },
      ],
    });
  });
});
