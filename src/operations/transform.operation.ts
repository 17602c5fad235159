import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { ContentError } from './content/content-error';
import { isRecordKind, type ContentKind } from './content/content-kind';
import { openImage } from './content/images';
import { csvRecordBatches } from './content/csv';
import { RecordStatistics, RecordsSummary } from './content/field-statistics';
import { InferredSchema, SchemaInference } from './content/schema-inference';
import { JsonRecord, SourceItem, ndjsonBatchStream, sourceItems } from './content/records';
import { canonicalText, strictUtf8 } from './content/text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, WrittenFile, completed, failed } from './operation';
import { ProgressThrottle } from './progress-throttle';
import type { ValidateResult } from './validate.operation';

export const RECORDS_FILE = 'records.ndjson';
export const TEXT_FILE = 'text.txt';
export const IMAGE_FILE = 'image.webp';

export interface TransformResult {
  kind: ContentKind;
  format: 'ndjson' | 'text' | 'webp';
  /** The canonical file's name under `<identifier>/transform/`. */
  file_name: string;
  file: string;
  bytes: number;
  /** Records kinds. */
  record_count?: number;
  records_file?: string;
  /** Records kinds: the fields of the records, inferred as they were written (enrich's schema). */
  schema?: InferredSchema;
  /** Records kinds, when the plan has analyze: its statistics of the records, gathered as they were written. */
  statistics?: RecordsSummary;
  /** Text. */
  text_file?: string;
  /** Images: the size of the canonical (auto-oriented) image. */
  image_file?: string;
  width?: number;
  height?: number;
}

/**
 * Canonical form. Records (CSV rows with inferred scalar types, JSON array elements, a JSON
 * object, NDJSON lines) become NDJSON; text becomes NFC UTF-8 with \n line endings; images
 * become auto-oriented WebP without metadata.
 */
@Operation()
@Injectable()
export class TransformOperation implements ProcessingOperation {
  readonly name = 'transform';

  async run(context: OperationContext): Promise<OperationOutcome> {
    const validation = await context.readResult<ValidateResult>('validate');
    const kind = validation.kind ?? 'json';
    try {
      if (isRecordKind(kind)) {
        return completed({ ...(await this.records(kind, validation, context)) });
      }
      if (kind === 'text') {
        const file = await context.writeFile(
          TEXT_FILE,
          textStream(canonicalText(strictUtf8(await context.openContent()))),
          'text/plain; charset=utf-8',
        );
        return completed({ ...result(kind, 'text', TEXT_FILE, file), text_file: file.s3Url });
      }
      return completed({ ...(await this.image(context)) });
    } catch (error) {
      if (error instanceof ContentError) {
        return failed(error.message);
      }
      throw error;
    }
  }

  private async records(kind: ContentKind, validation: ValidateResult, context: OperationContext): Promise<TransformResult> {
    const progress = new ProgressThrottle(context);
    let recordCount = 0;
    const total = validation.record_count;
    const inference = new SchemaInference();
    // One pass over the records serves enrich and analyze too: reading the records file again for them cost as much as writing it.
    const statistics = context.object.plan.includes('analyze') ? new RecordStatistics() : undefined;
    const content = await context.openContent();
    const batches = (async function* (): AsyncGenerator<JsonRecord[]> {
      const source =
        kind === 'csv' && validation.csv
          ? csvRecordBatches(content, validation.csv)
          : itemBatches(sourceItems(kind, content, validation.csv));
      for await (const batch of source) {
        for (const record of batch) {
          inference.add(record);
          statistics?.add(record);
        }
        recordCount += batch.length;
        yield batch;
        await progress.report(`Transformed ${recordCount}${total === undefined ? '' : ` of ${total}`} records`);
      }
    })();
    const file = await context.writeFile(RECORDS_FILE, ndjsonBatchStream(batches), 'application/x-ndjson');
    return {
      ...result(kind, 'ndjson', RECORDS_FILE, file),
      record_count: recordCount,
      records_file: file.s3Url,
      schema: inference.schema(),
      ...(statistics ? { statistics: statistics.summary() } : {}),
    };
  }

  private async image(context: OperationContext): Promise<TransformResult> {
    const { path } = await context.contentFile();
    // sharp writes no metadata unless asked to: the WebP carries no EXIF, ICC or XMP.
    const { data, info } = await openImage(path).autoOrient().webp().toBuffer({ resolveWithObject: true });
    const file = await context.writeFile(IMAGE_FILE, data, 'image/webp');
    return { ...result('image', 'webp', IMAGE_FILE, file), image_file: file.s3Url, width: info.width, height: info.height };
  }
}

function result(kind: ContentKind, format: TransformResult['format'], name: string, file: WrittenFile): TransformResult {
  return { kind, format, file_name: name, file: file.s3Url, bytes: file.size };
}

/** Records of JSON and NDJSON in batches of up to 1,000. */
async function* itemBatches(items: AsyncIterable<SourceItem>): AsyncGenerator<JsonRecord[]> {
  let batch: JsonRecord[] = [];
  for await (const item of items) {
    batch.push(item.record);
    if (batch.length >= 1000) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) {
    yield batch;
  }
}

function textStream(chunks: AsyncIterable<string>): Readable {
  return Readable.from(
    (async function* () {
      for await (const chunk of chunks) {
        yield Buffer.from(chunk, 'utf8');
      }
    })(),
  );
}
