import { FieldType, JsonRecord, typeOf } from './records';

export interface InferredField {
  name: string;
  types: FieldType[];
  nullable: boolean;
  present_in: number;
}

/** The fields of records seen one by one: their types, and in how many records each is present. */
export class SchemaInference {
  private readonly seen = new Map<string, { types: Set<FieldType>; presentIn: number }>();
  records = 0;

  add(record: JsonRecord): void {
    this.records++;
    for (const name in record) {
      let field = this.seen.get(name);
      if (!field) this.seen.set(name, (field = { types: new Set<FieldType>(), presentIn: 0 }));
      field.types.add(typeOf(record[name]));
      field.presentIn++;
    }
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
