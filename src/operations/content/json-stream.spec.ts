import { Readable } from 'node:stream';
import { JsonSyntaxError, jsonItems, locateJsonError } from './json-stream';

const stream = (text: string) => Readable.from([Buffer.from(text)]);

describe('jsonItems', () => {
  it('streams the elements of a top-level array', async () => {
    const items = [];
    for await (const item of jsonItems(stream('[{"a":1},[2],"x",null,{"b":{"c":[true]}}]'))) {
      items.push(item);
    }
    expect(items).toEqual([
      { documentKind: 'array', value: { a: 1 } },
      { documentKind: 'array', value: [2] },
      { documentKind: 'array', value: 'x' },
      { documentKind: 'array', value: null },
      { documentKind: 'array', value: { b: { c: [true] } } },
    ]);
  });

  it('gives a non-array document as one item', async () => {
    const items = [];
    for await (const item of jsonItems(stream(' {"a": [1, 2]} '))) {
      items.push(item);
    }
    expect(items).toEqual([{ documentKind: 'object', value: { a: [1, 2] } }]);
  });

  it('throws a JsonSyntaxError on malformed JSON', async () => {
    const consume = async () => {
      for await (const item of jsonItems(stream('[{"a":1},'))) {
        void item;
      }
    };
    await expect(consume()).rejects.toBeInstanceOf(JsonSyntaxError);
  });
});

describe('locateJsonError', () => {
  it('gives line and column of the problem', async () => {
    expect(await locateJsonError(stream('[\n  {"a": 1},\n  {"b" 2}\n]'))).toEqual({
      line: 3,
      column: 8,
      reason: expect.stringContaining("':'") as unknown,
    });
  });

  it('says nothing for valid JSON', async () => {
    expect(await locateJsonError(stream('{"a": [1, 2]}'))).toBeUndefined();
  });
});
