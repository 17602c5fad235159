import { Injectable } from '@nestjs/common';
import { FieldType, readNdjson, typeOf } from './content/records';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed } from './operation';
import { RECORDS_FILE, TransformResult } from './transform.operation';
import { ProgressThrottle } from './progress-throttle';
import { SERVICE_NAME, SERVICE_VERSION } from '../common/service-info';

export interface FieldSchema {
  name: string;
  types: FieldType[];
  nullable: boolean;
  present_in: number;
}

export interface EnrichResult {
  record_count: number;
  schema: { fields: FieldSchema[] };
  provenance: Record<string, unknown>;
}

/** Metadata about the records: their inferred schema and where they came from. */
@Operation()
@Injectable()
export class EnrichOperation implements ProcessingOperation {
  readonly name = 'enrich';
  readonly dependsOn = ['transform'];

  async run(context: OperationContext): Promise<OperationOutcome> {
    const validation = await context.readResult<{ sha256: string; size: number; content_type: string }>('validate');
    const transform = await context.readResult<TransformResult>('transform');
    const fields = new Map<string, { types: Set<FieldType>; presentIn: number }>();
    const progress = new ProgressThrottle(context);
    let recordCount = 0;
    for await (const record of readNdjson(await context.openFile('transform', RECORDS_FILE))) {
      recordCount++;
      for (const [name, value] of Object.entries(record)) {
        const field = fields.get(name) ?? { types: new Set<FieldType>(), presentIn: 0 };
        field.types.add(typeOf(value));
        field.presentIn++;
        fields.set(name, field);
      }
      await progress.report(`Inferred schema of ${recordCount} of ${transform.record_count} records`);
    }
    const schema: FieldSchema[] = [...fields].map(([name, field]) => ({
      name,
      types: [...field.types].filter((type) => type !== 'null').sort(),
      nullable: field.types.has('null') || field.presentIn < recordCount,
      present_in: field.presentIn,
    }));
    const result: EnrichResult = {
      record_count: recordCount,
      schema: { fields: schema },
      provenance: {
        object_id: context.object.id,
        identifier: context.object.identifier,
        source_sha256: validation.sha256,
        source_size: validation.size,
        content_type: validation.content_type,
        canonical_bytes: transform.bytes,
        metadata: context.object.metadata,
        service: { name: SERVICE_NAME, version: SERVICE_VERSION },
        object_created_at: context.object.createdAt.toISOString(),
        enriched_at: new Date().toISOString(),
      },
    };
    return completed({ ...result });
  }
}
