import { Injectable } from '@nestjs/common';
import { FieldStatistics } from './content/field-statistics';
import { readNdjson } from './content/records';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed } from './operation';
import { ProgressThrottle } from './progress-throttle';
import { RECORDS_FILE } from './transform.operation';
import type { EnrichResult } from './enrich.operation';

/** Statistics per field of the canonical records. */
@Operation()
@Injectable()
export class AnalyzeOperation implements ProcessingOperation {
  readonly name = 'analyze';
  readonly dependsOn = ['enrich'];

  async run(context: OperationContext): Promise<OperationOutcome> {
    const enrichment = await context.readResult<EnrichResult>('enrich');
    const statistics = new Map(enrichment.schema.fields.map((field) => [field.name, new FieldStatistics()]));
    const progress = new ProgressThrottle(context);
    let recordCount = 0;
    for await (const record of readNdjson(await context.openFile('transform', RECORDS_FILE))) {
      recordCount++;
      for (const [name, fieldStatistics] of statistics) {
        fieldStatistics.add(record[name]);
      }
      await progress.report(`Analyzed ${recordCount} of ${enrichment.record_count} records`);
    }
    return completed({
      record_count: recordCount,
      fields: Object.fromEntries([...statistics].map(([name, fieldStatistics]) => [name, fieldStatistics.summary()])),
    });
  }
}
