import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { JsonRecord, ndjsonStream, readNdjson } from './content/records';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, WrittenFile, completed, failed } from './operation';
import { ExportFormat, readOptions } from './operation-options';
import { IMAGE_FILE, RECORDS_FILE, TEXT_FILE, TransformResult } from './transform.operation';
import type { EnrichResult } from './enrich.operation';
import { isRecordKind } from './content/content-kind';

const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
};

/**
 * The records in the requested format, and a manifest of every artifact with download URLs.
 * Text and images have no records: their export is the canonical file (NFC text, WebP image)
 * and the manifest; asking for a records format for them fails.
 */
@Operation()
@Injectable()
export class ExportOperation implements ProcessingOperation {
  readonly name = 'export';

  async run(context: OperationContext): Promise<OperationOutcome> {
    const requested = readOptions(context.object.options).export?.format;
    const transform = await context.readResult<TransformResult>('transform');
    const kind = transform.kind ?? 'json';
    if (!isRecordKind(kind)) {
      if (requested) {
        return failed(`export format ${requested} needs records (JSON, NDJSON or CSV content); content is ${kind}`);
      }
      const name = kind === 'text' ? TEXT_FILE : IMAGE_FILE;
      const contentType = kind === 'text' ? 'text/plain; charset=utf-8' : 'image/webp';
      const file = await context.writeFile(name, await context.openFile('transform', name), contentType);
      return completed({
        format: kind === 'text' ? 'text' : 'webp',
        file: file.s3Url,
        bytes: file.size,
        manifest: { generated_at: new Date().toISOString(), artifacts: await context.listArtifacts() },
      });
    }
    const format = requested ?? 'ndjson';
    if (format === 'csv') {
      const { truncated } = (await context.readResult<EnrichResult>('enrich')).schema;
      if (truncated) {
        return failed(
          `export format csv has a column per field, and the records have more than ${truncated.field_limit} distinct fields: export them as ndjson or json`,
        );
      }
    }
    // Transform's records file already is the NDJSON export (one JSON.stringify per record, \n-terminated): it is copied, not parsed and written again.
    const file: WrittenFile =
      format === 'ndjson'
        ? await context.copyFile('transform', RECORDS_FILE, 'records.ndjson')
        : await context.writeFile(
            `records.${format}`,
            await this.render(format, readNdjson(await context.openFile('transform', RECORDS_FILE)), context),
            CONTENT_TYPES[format],
          );
    const artifacts = await context.listArtifacts();
    return completed({
      format,
      file: file.s3Url,
      bytes: file.size,
      manifest: { generated_at: new Date().toISOString(), artifacts },
    });
  }

  private async render(format: ExportFormat, records: AsyncIterable<JsonRecord>, context: OperationContext): Promise<Readable> {
    switch (format) {
      case 'ndjson':
        return ndjsonStream(records);
      case 'json':
        return jsonArrayStream(records);
      case 'csv': {
        const enrichment = await context.readResult<EnrichResult>('enrich');
        const names = enrichment.schema.fields.map((field) => field.name);
        // Rows go to csv-stringify as arrays: it reads a column name as a property path ("a.b", "x[0]") and
        // finds inherited properties ("__proto__"), where a record's own field of that exact name is meant.
        return Readable.from(rowsOf(records, names)).pipe(
          stringify({
            header: true,
            columns: names.map((name, index) => ({ key: String(index), header: name })),
            cast: { object: (value) => JSON.stringify(value), boolean: (value) => String(value) },
          }),
        );
      }
    }
  }
}

async function* rowsOf(records: AsyncIterable<JsonRecord>, names: string[]): AsyncGenerator<unknown[]> {
  for await (const record of records) {
    yield names.map((name) => (Object.hasOwn(record, name) ? record[name] : undefined));
  }
}

function jsonArrayStream(records: AsyncIterable<JsonRecord>): Readable {
  return Readable.from(
    (async function* () {
      let first = true;
      yield '[';
      for await (const record of records) {
        yield `${first ? '' : ','}\n${JSON.stringify(record)}`;
        first = false;
      }
      yield first ? ']\n' : '\n]\n';
    })(),
  );
}
