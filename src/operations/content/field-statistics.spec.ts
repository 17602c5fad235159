import { FieldStatistics, RecordStatistics } from './field-statistics';

describe('FieldStatistics', () => {
  it('counts values by their JSON text, numbers and strings alike', () => {
    const statistics = new FieldStatistics(() => 0.5);
    for (const value of [1, 1, '1', 2.5, true, 'x', null, { a: 1 }, { a: 1 }]) statistics.add(value);
    const summary = statistics.summary();
    expect(summary).toMatchObject({ count: 9, nulls: 1, distinct: 5, distinct_exact: true, types: { integer: 2, string: 2, number: 1, boolean: 1, null: 1, object: 2 } });
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
    for (let index = 0; index < 6000; index++) statistics.add(index);
    for (let index = 0; index < 6000; index++) statistics.add(`s${index}`);
    statistics.add(0);
    const summary = statistics.summary();
    expect(summary).toMatchObject({ count: 12001, distinct: 10000, distinct_exact: false });
    expect(summary.top_values[0]).toEqual({ value: '0', count: 2 });
  });
});

describe('RecordStatistics', () => {
  it('gathers every field in the order it first appears, a record without it counting as null', () => {
    const statistics = new RecordStatistics();
    for (const record of [{ a: 1 }, { a: 2, b: 'x' }, { b: 'y' }]) statistics.add(record);
    const summary = statistics.summary();
    expect(summary.record_count).toBe(3);
    expect(Object.keys(summary.fields)).toEqual(['a', 'b']);
    expect(summary.fields.a).toMatchObject({ count: 3, nulls: 1, types: { integer: 2, null: 1 } });
    expect(summary.fields.b).toMatchObject({ count: 3, nulls: 1, types: { null: 1, string: 2 } });
  });
});
