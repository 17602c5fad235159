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

/**
 * Statistics of one field in bounded memory: exact distinct counts and top values up to
 * 10,000 distinct values, Welford mean/variance, quantiles from a reservoir sample.
 */
export class FieldStatistics {
  private count = 0;
  private nulls = 0;
  private readonly types: Partial<Record<FieldType, number>> = {};
  private readonly frequencies = new Map<string, number>();
  private distinctOverflow = false;
  private numericCount = 0;
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly sample: number[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(value: unknown): void {
    this.count++;
    const type = typeOf(value);
    this.types[type] = (this.types[type] ?? 0) + 1;
    if (type === 'null') {
      this.nulls++;
      return;
    }
    this.countValue(typeof value === 'string' ? value : JSON.stringify(value));
    if (typeof value === 'number' && Number.isFinite(value)) {
      this.addNumber(value);
    }
  }

  summary(): FieldSummary {
    const summary: FieldSummary = {
      count: this.count,
      nulls: this.nulls,
      distinct: this.frequencies.size,
      distinct_exact: !this.distinctOverflow,
      types: this.types,
      top_values: [...this.frequencies]
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

  private countValue(key: string): void {
    const seen = this.frequencies.get(key);
    if (seen !== undefined) {
      this.frequencies.set(key, seen + 1);
    } else if (this.frequencies.size < DISTINCT_LIMIT) {
      this.frequencies.set(key, 1);
    } else {
      this.distinctOverflow = true;
    }
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

/** Linear interpolation between closest ranks. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}
