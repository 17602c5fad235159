import { MAX_FIELDS, MAX_TRACKED_VALUES, MAX_VALUE_CHARACTERS } from './content-limits';
import { FieldStatistics, RecordStatistics } from './field-statistics';

describe('FieldStatistics', () => {
  it('counts values by their JSON text, numbers and strings alike', () => {
    const statistics = new FieldStatistics(() => 0.5);
    for (const value of [1, 1, '1', 2.5, true, 'x', null, { a: 1 }, { a: 1 }]) {
      statistics.add(value);
    }
    const summary = statistics.summary();
    expect(summary).toMatchObject({
      count: 9,
      nulls: 1,
      distinct: 5,
      distinct_exact: true,
      types: { integer: 2, string: 2, number: 1, boolean: 1, null: 1, object: 2 },
    });
    expect(summary.top_values).toEqual([
      { value: '1', count: 3 },
      { value: '{"a":1}', count: 2 },
      { value: '2.5', count: 1 },
      { value: 'true', count: 1 },
      { value: 'x', count: 1 },
    ]);
    expect(summary.numeric).toMatchObject({ min: 1, max: 2.5, quantiles_exact: true });
  });

  it('stops counting new values after 10,000 distinct ones, numbers and strings together', () => {
    const statistics = new FieldStatistics();
    for (let index = 0; index < 6000; index++) {
      statistics.add(index);
    }
    for (let index = 0; index < 6000; index++) {
      statistics.add(`s${index}`);
    }
    statistics.add(0);
    const summary = statistics.summary();
    expect(summary).toMatchObject({ count: 12001, distinct: 10000, distinct_exact: false });
    expect(summary.top_values[0]).toEqual({ value: '0', count: 2 });
  });

  it(`counts values by their first ${MAX_VALUE_CHARACTERS} characters, and then says the distinct count is not exact`, () => {
    const statistics = new FieldStatistics();
    const long = 'x'.repeat(MAX_VALUE_CHARACTERS);
    for (const value of [`${long}1`, `${long}2`, 'short']) {
      statistics.add(value);
    }
    expect(statistics.summary()).toMatchObject({
      distinct: 2,
      distinct_exact: false,
      top_values: [
        { value: `${long}…`, count: 2 },
        { value: 'short', count: 1 },
      ],
    });
  });
});

describe('RecordStatistics', () => {
  it('gathers every field in the order it first appears, a record without it counting as null', () => {
    const statistics = new RecordStatistics();
    for (const record of [{ a: 1 }, { a: 2, b: 'x' }, { b: 'y' }]) {
      statistics.add(record);
    }
    const summary = statistics.summary();
    expect(summary.record_count).toBe(3);
    expect(Object.keys(summary.fields)).toEqual(['a', 'b']);
    expect(summary.fields.a).toMatchObject({ count: 3, nulls: 1, types: { integer: 2, null: 1 } });
    expect(summary.fields.b).toMatchObject({ count: 3, nulls: 1, types: { null: 1, string: 2 } });
  });

  it('gives each field its nulls for the records without it, before and after it appears', () => {
    const statistics = new RecordStatistics(['seeded']);
    const records = Array.from({ length: 600 }, (_, index) => ({ [`k${index}`]: index, shared: index % 2 === 0 ? 'even' : null }));
    for (const record of records) {
      statistics.add(record);
    }
    const summary = statistics.summary();
    expect(Object.keys(summary.fields).slice(0, 3)).toEqual(['seeded', 'k0', 'shared']);
    expect(summary.fields.seeded).toMatchObject({ count: 600, nulls: 600, types: { null: 600 } });
    expect(summary.fields.k300).toMatchObject({ count: 600, nulls: 599, distinct: 1, types: { null: 599, integer: 1 } });
    expect(summary.fields.shared).toMatchObject({ count: 600, nulls: 300, distinct: 1, types: { string: 300, null: 300 } });
  });

  it(`follows at most ${MAX_FIELDS} fields and says the summary is truncated`, () => {
    const statistics = new RecordStatistics();
    for (let index = 0; index < MAX_FIELDS + 10; index++) {
      statistics.add({ [`k${index}`]: 1 });
    }
    const summary = statistics.summary();
    expect(Object.keys(summary.fields)).toHaveLength(MAX_FIELDS);
    expect(summary.truncated).toEqual({ field_limit: MAX_FIELDS });
    expect(summary.fields[`k${MAX_FIELDS - 1}`]).toMatchObject({ count: MAX_FIELDS + 10, nulls: MAX_FIELDS + 9 });
    expect(new RecordStatistics().summary()).not.toHaveProperty('truncated');
  });

  it(`counts at most ${MAX_TRACKED_VALUES} distinct values over all fields`, () => {
    const statistics = new RecordStatistics();
    const perField = 10_000;
    const fields = Math.ceil(MAX_TRACKED_VALUES / perField) + 2;
    for (let index = 0; index < perField; index++) {
      statistics.add(Object.fromEntries(Array.from({ length: fields }, (_, field) => [`f${field}`, `${field}:${index}`])));
    }
    const summary = statistics.summary();
    const distinct = Object.values(summary.fields).reduce((sum, field) => sum + field.distinct, 0);
    expect(distinct).toBe(MAX_TRACKED_VALUES);
    // Each field would have had 10,000 distinct values: the budget ran out for all of them.
    expect(Object.values(summary.fields).map((field) => field.distinct_exact)).toEqual(Array(fields).fill(false));
  });

  it('keeps a field named __proto__', () => {
    const statistics = new RecordStatistics();
    statistics.add(JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, unknown>);
    expect(Object.keys(statistics.summary().fields)).toEqual(['__proto__', 'a']);
  });
});
