import { Injectable } from '@nestjs/common';
import { RecordStatistics } from './content/field-statistics';
import { analyzeImage } from './content/image-analysis';
import { readNdjsonBatches } from './content/records';
import { TermCounter } from './content/text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed } from './operation';
import { ProgressThrottle } from './progress-throttle';
import { RECORDS_FILE, TEXT_FILE, TransformResult } from './transform.operation';
import type { EnrichResult } from './enrich.operation';

/** Statistics: per field of records, top terms of text, histogram and colours of an image. */
@Operation()
@Injectable()
export class AnalyzeOperation implements ProcessingOperation {
  readonly name = 'analyze';

  async run(context: OperationContext): Promise<OperationOutcome> {
    const enrichment = await context.readResult<EnrichResult>('enrich');
    const kind = enrichment.kind ?? 'json';
    if (kind === 'text') {
      return completed({ kind, ...(await this.text(context, enrichment)) });
    }
    if (kind === 'image') {
      return completed({ kind, ...(await analyzeImage((await context.contentFile()).path)) });
    }
    return completed({ kind, ...(await this.records(context, enrichment)) });
  }

  private async records(context: OperationContext, enrichment: EnrichResult): Promise<Record<string, unknown>> {
    // Transform gathers the statistics as it writes the records when the plan has analyze; else (an object transformed earlier) they are read again.
    const transform = await context.readResult<TransformResult>('transform');
    if (transform.statistics && transform.statistics.record_count === enrichment.record_count) {
      return { ...transform.statistics };
    }
    const statistics = new RecordStatistics(enrichment.schema.fields.map((field) => field.name));
    const progress = new ProgressThrottle(context);
    for await (const batch of readNdjsonBatches(await context.openFile('transform', RECORDS_FILE))) {
      for (const record of batch) {
        statistics.add(record);
      }
      await progress.report(`Analyzed ${statistics.records} of ${enrichment.record_count} records`);
    }
    return { ...statistics.summary() };
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
