import { FieldsTruncated, MAX_FIELDS } from './content-limits';
import { FieldType, JsonRecord, typeOf } from './records';

export interface InferredField {
  name: string;
  types: FieldType[];
  nullable: boolean;
  present_in: number;
}

export interface InferredSchema {
  fields: InferredField[];
  /** Present when the records had more distinct fields than the limit: only the first ones are listed. */
  truncated?: FieldsTruncated;
}

/** The fields of records seen one by one (up to MAX_FIELDS of them): their types, and in how many records each is present. */
export class SchemaInference {
  private readonly seen = new Map<string, { types: Set<FieldType>; presentIn: number }>();
  private untracked = false;
  records = 0;

  add(record: JsonRecord): void {
    this.records++;
    for (const name in record) {
      let field = this.seen.get(name);
      if (!field) {
        if (this.seen.size >= MAX_FIELDS) {
          this.untracked = true;
          continue;
        }
        this.seen.set(name, (field = { types: new Set<FieldType>(), presentIn: 0 }));
      }
      field.types.add(typeOf(record[name]));
      field.presentIn++;
    }
  }

  schema(): InferredSchema {
    return { fields: this.fields(), ...(this.untracked ? { truncated: { field_limit: MAX_FIELDS } } : {}) };
  }

  fields(): InferredField[] {
    return [...this.seen].map(([name, field]) => ({
      name,
      types: [...field.types].filter((type) => type !== 'null').sort(),
      nullable: field.types.has('null') || field.presentIn < this.records,
      present_in: field.presentIn,
    }));
  }
}
