import { baseContentType, contentKindOf, isRecordKind } from './content-kind';

describe('contentKindOf', () => {
  it.each([
    ['application/json', 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['Text/CSV; charset=utf-8', 'csv'],
    ['text/plain', 'text'],
    ['image/jpeg', 'image'],
    ['image/avif', 'image'],
    ['image/tiff', 'image'],
    ['application/pdf', undefined],
  ])('%s is %s', (type, kind) => {
    expect(contentKindOf(type)).toBe(kind);
  });

  it('strips parameters and case', () => {
    expect(baseContentType(' Text/Plain ; charset=UTF-8')).toBe('text/plain');
  });

  it('knows which kinds have records', () => {
    expect(['json', 'ndjson', 'csv', 'text', 'image'].filter((kind) => isRecordKind(kind as never))).toEqual(['json', 'ndjson', 'csv']);
  });
});
