import { Readable } from 'node:stream';
import { ContentError } from './content-error';
import { parse as parseSync } from 'csv-parse/sync';
import { CsvScanner, columnNames, csvRecords, inferScalar, sniffCsvDialect } from './csv';

describe('inferScalar', () => {
  it.each([
    ['', null],
    ['true', true],
    ['FALSE', false],
    ['42', 42],
    ['-3.5', -3.5],
    ['1e3', 1000],
    ['007', '007'],
    ['12345678901234567890', '12345678901234567890'],
    ['1,5', '1,5'],
    [' 42', ' 42'],
    ['NaN', 'NaN'],
    ['hello', 'hello'],
  ])('reads %j as %j', (cell, expected) => {
    expect(inferScalar(cell)).toBe(expected);
  });
});

describe('sniffCsvDialect', () => {
  it.each([
    [',', 'name,age\nann,31\nbob,42\n'],
    [';', 'name;note\nann;"a, b, c"\nbob;"x,y"\n'],
    ['\t', 'name\tage\nann\t31\n'],
    ['|', 'a|b|c\n1|2|3\n'],
  ])('finds the delimiter %j', (delimiter, sample) => {
    expect(sniffCsvDialect(sample).delimiter).toBe(delimiter);
  });

  it('prefers the delimiter that splits quoted rows consistently, ignoring a BOM', () => {
    const dialect = sniffCsvDialect('\uFEFFcity;"note, with comma";value\n"Oslo";"a;b";1\nRome;x;2\n');
    expect(dialect).toEqual({ delimiter: ';', header: true, columns: ['city', 'note, with comma', 'value'] });
  });

  it('takes a first row of distinct non-numeric names as a header', () => {
    expect(sniffCsvDialect('x,y\n1,2\n')).toMatchObject({ header: true, columns: ['x', 'y'] });
  });

  it('takes a numeric first row as data and names the columns by position', () => {
    expect(sniffCsvDialect('1,2,3\n4,5,6\n')).toEqual({ delimiter: ',', header: false, columns: ['column_1', 'column_2', 'column_3'] });
  });

  it('takes a first row with duplicates or blanks as data', () => {
    expect(sniffCsvDialect('a,a\nb,c\n').header).toBe(false);
    expect(sniffCsvDialect('a,\nb,c\n').header).toBe(false);
  });
});

describe('columnNames', () => {
  it('names blanks by position and numbers duplicates', () => {
    expect(columnNames(['id', ' ', 'id', 'name '])).toEqual(['id', 'column_2', 'id_2', 'name']);
  });
});

describe('csvRecords', () => {
  const records = async (text: string | Buffer, chunkSize = 3) => {
    const bytes = Buffer.from(text);
    const chunks = [];
    for (let start = 0; start < bytes.length; start += chunkSize) {
      chunks.push(bytes.subarray(start, start + chunkSize));
    }
    const dialect = sniffCsvDialect(bytes.toString());
    const out = [];
    for await (const record of csvRecords(Readable.from(chunks), dialect)) {
      out.push(record);
    }
    return out;
  };

  it('streams typed records with quoted delimiters, quotes and newlines, through a BOM', async () => {
    const rows = await records('\uFEFFname;note;n\n"Ann";"a;b ""c""\nnext";1\nBob;;2.5\n');
    expect(rows).toEqual([
      { record: { name: 'Ann', note: 'a;b "c"\nnext', n: 1 }, line: 3 },
      { record: { name: 'Bob', note: null, n: 2.5 }, line: 4 },
    ]);
  });

  it('keeps a column named __proto__ as a field of its own', async () => {
    const { record } = (await records('id,__proto__,name\n1,x,Ann\n'))[0]!;
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.keys(record)).toEqual(['id', '__proto__', 'name']);
    expect(JSON.stringify(record)).toBe('{"id":1,"__proto__":"x","name":"Ann"}');
  });

  it('names cells by position when the dialect has no columns (a first row longer than the sniffed head)', async () => {
    const long = 'x'.repeat(70_000);
    const dialect = sniffCsvDialect(`"${long.slice(0, 65_000)}`);
    expect(dialect.columns).toEqual([]);
    const out = [];
    for await (const { record } of csvRecords(Readable.from([Buffer.from(`"${long}",1\ny,2\n`)]), dialect)) {
      out.push(record);
    }
    expect(out).toEqual([
      { column_1: long, column_2: 1 },
      { column_1: 'y', column_2: 2 },
    ]);
  });

  it('names the line of a ragged row', async () => {
    await expect(records('a,b\n1,2\n3\n')).rejects.toThrow(
      new ContentError('Invalid CSV at line 3: the row has 1 field(s), expected 2 like the first row'),
    );
  });

  it('names the line of a bad quote', async () => {
    await expect(records('a,b\n1,2\n3,"x"y\n')).rejects.toThrow(/^Invalid CSV at line 3, field 2: unexpected "y" after a closing quote$/);
  });

  it('names an unclosed quote', async () => {
    await expect(records('a,b\n1,"open\n2,3\n')).rejects.toThrow(/^Invalid CSV at line 3: a quoted field is never closed$/);
  });
});

describe('CsvScanner', () => {
  const scan = (text: string, delimiter = ',', chunkSize = 7) => {
    const bytes = Buffer.from(text);
    const scanner = new CsvScanner({ delimiter, header: false, columns: [] });
    for (let start = 0; start < bytes.length; start += chunkSize) {
      scanner.write(bytes.subarray(start, start + chunkSize));
    }
    return scanner.end();
  };
  const parsed = (text: string, delimiter = ',') => {
    try {
      return parseSync(text, { delimiter, bom: true, skip_empty_lines: true }).length;
    } catch {
      return 'error';
    }
  };

  it('accepts the common case and counts its records, header included', () => {
    const text = '\uFEFFid,name,note\n1,Ann,"a, b"\n\n2,"Bob ""B""","two\nlines"\n3,,x';
    expect(scan(text)).toBe(4);
    expect(parsed(text)).toBe(4);
    expect(scan('a;b\n1;2\n', ';')).toBe(2);
  });

  it('gives up on what it does not prove: a ragged row, a stray or open quote, a carriage return', () => {
    for (const text of ['a,b\n1\n', 'a,b\n1,x"y\n', 'a,b\n1,"x"y\n', 'a,b\n1,"open\n', 'a,b\r\n1,2\r\n', 'a\n""\n']) {
      expect(scan(text)).toBeUndefined();
    }
  });

  it('never accepts what csv-parse refuses, and counts as csv-parse does (random CSV, random chunks)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const alphabet = ['a', 'b', ',', ',', '"', '"', '\n', '\n', ' ', ';', '\r', 'é'];
    let accepted = 0;
    for (let run = 0; run < 40000; run++) {
      const length = 1 + Math.floor(random() * 24);
      let text = '';
      for (let index = 0; index < length; index++) {
        text += alphabet[Math.floor(random() * alphabet.length)];
      }
      const rows = scan(text, ',', 3 + Math.floor(random() * 6));
      if (rows !== undefined) {
        accepted++;
        expect([text, parsed(text)]).toEqual([text, rows]);
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
