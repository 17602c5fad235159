import { Injectable } from '@nestjs/common';
import { FieldStatistics } from './content/field-statistics';
import { analyzeImage } from './content/image-analysis';
import { withLocalCopy } from './content/images';
import { readNdjson } from './content/records';
import { TermCounter } from './content/text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed } from './operation';
import { ProgressThrottle } from './progress-throttle';
import { RECORDS_FILE, TEXT_FILE } from './transform.operation';
import type { EnrichResult } from './enrich.operation';

/** Statistics: per field of records, top terms of text, histogram and colours of an image. */
@Operation()
@Injectable()
export class AnalyzeOperation implements ProcessingOperation {
  readonly name = 'analyze';
  readonly dependsOn = ['enrich'];

  async run(context: OperationContext): Promise<OperationOutcome> {
    const enrichment = await context.readResult<EnrichResult>('enrich');
    const kind = enrichment.kind ?? 'json';
    if (kind === 'text') {
      return completed({ kind, ...(await this.text(context, enrichment)) });
    }
    if (kind === 'image') {
      return completed({ kind, ...(await withLocalCopy(await context.openContent(), (path) => analyzeImage(path), context.signal)) });
    }
    return completed({ kind, ...(await this.records(context, enrichment)) });
  }

  private async records(context: OperationContext, enrichment: EnrichResult): Promise<Record<string, unknown>> {
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
    return {
      record_count: recordCount,
      fields: Object.fromEntries([...statistics].map(([name, fieldStatistics]) => [name, fieldStatistics.summary()])),
    };
  }

  private async text(context: OperationContext, enrichment: EnrichResult): Promise<Record<string, unknown>> {
    const terms = new TermCounter();
    const progress = new ProgressThrottle(context);
    const decoder = new TextDecoder('utf-8');
    let bytes = 0;
    for await (const chunk of await context.openFile('transform', TEXT_FILE)) {
      bytes += (chunk as Buffer).length;
      terms.add(decoder.decode(chunk as Buffer, { stream: true }));
      await progress.report(`Counted terms in ${bytes} bytes of text`);
    }
    terms.add(decoder.decode());
    return { counts: enrichment.text, terms: terms.summary() };
  }
}
