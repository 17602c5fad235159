import { FieldsTruncated, MAX_FIELDS, MAX_TRACKED_VALUES, MAX_VALUE_CHARACTERS } from './content-limits';
import { FieldType, typeOf } from './records';

const DISTINCT_LIMIT = 10_000;
const SAMPLE_SIZE = 10_000;
const TOP_VALUES = 10;
const QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

export interface NumericSummary {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  quantiles: Record<string, number>;
  quantiles_exact: boolean;
}

export interface FieldSummary {
  count: number;
  nulls: number;
  distinct: number;
  distinct_exact: boolean;
  types: Partial<Record<FieldType, number>>;
  top_values: { value: string; count: number }[];
  numeric?: NumericSummary;
}

/** How many more distinct values may be counted, shared by the fields of one RecordStatistics. */
export class DistinctBudget {
  constructor(public remaining = MAX_TRACKED_VALUES) {}
}

/**
 * Statistics of one field in bounded memory: exact distinct counts and top values up to
 * 10,000 distinct values (and within the budget shared with other fields), values counted by
 * their first 256 characters, Welford mean/variance, quantiles from a reservoir sample.
 */
export class FieldStatistics {
  private count = 0;
  private nulls = 0;
  private readonly types: Partial<Record<FieldType, number>> = {};
  private readonly frequencies = new Map<string, number>();
  // Numbers are counted by value and turned into text only for the summary: a String() per number cost more than the rest of the statistics.
  private readonly numberFrequencies = new Map<number, number>();
  private distinctOverflow = false;
  private numericCount = 0;
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly sample: number[] = [];

  constructor(
    private readonly random: () => number = Math.random,
    private readonly budget = new DistinctBudget(),
  ) {}

  add(value: unknown): void {
    this.count++;
    const type = typeOf(value);
    this.types[type] = (this.types[type] ?? 0) + 1;
    if (type === 'null') {
      this.nulls++;
      return;
    }
    if (typeof value === 'number') {
      this.countNumber(value);
      if (Number.isFinite(value)) {
        this.addNumber(value);
      }
    } else {
      this.countValue(typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : JSON.stringify(value));
    }
  }

  /** Brings the count up to `records`: the records that did not have the field count as nulls. */
  addAbsent(records: number): void {
    this.addNulls(records - this.count);
  }

  /** `count` records without the field (null for the statistics). */
  addNulls(count: number): void {
    this.count += count;
    this.nulls += count;
    if (count > 0) {
      this.types.null = (this.types.null ?? 0) + count;
    }
  }

  summary(): FieldSummary {
    const frequencies = new Map(this.frequencies);
    for (const [value, count] of this.numberFrequencies) {
      const key = JSON.stringify(value);
      frequencies.set(key, (frequencies.get(key) ?? 0) + count);
    }
    const summary: FieldSummary = {
      count: this.count,
      nulls: this.nulls,
      distinct: frequencies.size,
      distinct_exact: !this.distinctOverflow,
      types: this.types,
      top_values: [...frequencies]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, TOP_VALUES)
        .map(([value, count]) => ({ value, count })),
    };
    if (this.numericCount > 0) {
      const sorted = [...this.sample].sort((a, b) => a - b);
      summary.numeric = {
        min: this.min,
        max: this.max,
        mean: this.mean,
        stddev: this.numericCount > 1 ? Math.sqrt(this.m2 / (this.numericCount - 1)) : 0,
        quantiles: Object.fromEntries(QUANTILES.map((q) => [`p${Math.round(q * 100)}`, quantile(sorted, q)])),
        quantiles_exact: this.numericCount <= SAMPLE_SIZE,
      };
    }
    return summary;
  }

  private countNumber(value: number): void {
    const seen = this.numberFrequencies.get(value);
    if (seen !== undefined) {
      this.numberFrequencies.set(value, seen + 1);
    } else if (this.mayCountAnother()) {
      this.numberFrequencies.set(value, 1);
    }
  }

  private countValue(value: string): void {
    let key = value;
    if (value.length > MAX_VALUE_CHARACTERS) {
      // Long values that share their start count as one: the distinct count is no longer exact.
      key = `${value.slice(0, MAX_VALUE_CHARACTERS)}…`;
      this.distinctOverflow = true;
    }
    const seen = this.frequencies.get(key);
    if (seen !== undefined) {
      this.frequencies.set(key, seen + 1);
    } else if (this.mayCountAnother()) {
      this.frequencies.set(key, 1);
    }
  }

  private mayCountAnother(): boolean {
    if (this.frequencies.size + this.numberFrequencies.size < DISTINCT_LIMIT && this.budget.remaining > 0) {
      this.budget.remaining--;
      return true;
    }
    this.distinctOverflow = true;
    return false;
  }

  private addNumber(value: number): void {
    this.numericCount++;
    const delta = value - this.mean;
    this.mean += delta / this.numericCount;
    this.m2 += delta * (value - this.mean);
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
    if (this.sample.length < SAMPLE_SIZE) {
      this.sample.push(value);
    } else {
      const slot = Math.floor(this.random() * this.numericCount);
      if (slot < SAMPLE_SIZE) {
        this.sample[slot] = value;
      }
    }
  }
}

export interface RecordsSummary {
  record_count: number;
  fields: Record<string, FieldSummary>;
  /** Present when the records had more distinct fields than the limit: only the first ones are summarised. */
  truncated?: FieldsTruncated;
}

/**
 * FieldStatistics of the fields of records seen one by one, in the order fields first appear, up to
 * MAX_FIELDS of them; a record without a field counts as null for it. Each record costs only its own
 * fields: the nulls of absent fields are made up from the counts at the end.
 */
export class RecordStatistics {
  private readonly byName = new Map<string, FieldStatistics>();
  private readonly budget = new DistinctBudget();
  private untracked = false;
  records = 0;

  constructor(names: readonly string[] = []) {
    for (const name of names) {
      this.track(name);
    }
  }

  add(record: Record<string, unknown>): void {
    for (const name in record) {
      const statistics = this.byName.get(name) ?? this.track(name);
      statistics?.add(record[name]);
    }
    this.records++;
  }

  summary(): RecordsSummary {
    const fields = Object.fromEntries(
      [...this.byName].map(([name, statistics]) => {
        statistics.addAbsent(this.records);
        return [name, statistics.summary()];
      }),
    );
    return { record_count: this.records, fields, ...(this.untracked ? { truncated: { field_limit: MAX_FIELDS } } : {}) };
  }

  private track(name: string): FieldStatistics | undefined {
    if (this.byName.size >= MAX_FIELDS) {
      this.untracked = true;
      return undefined;
    }
    const statistics = new FieldStatistics(Math.random, this.budget);
    statistics.addNulls(this.records);
    this.byName.set(name, statistics);
    return statistics;
  }
}

/** Linear interpolation between closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) {
    return NaN;
  }
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const below = sorted[lower] ?? NaN;
  const above = sorted[upper] ?? NaN;
  return below + (above - below) * (position - lower);
}
