import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { parseJson, readText } from './content/json-text';
import { ndjsonStream, recordsOf } from './content/records';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed, failed } from './operation';

export const RECORDS_FILE = 'records.ndjson';

export interface TransformResult {
  format: 'ndjson';
  record_count: number;
  records_file: string;
  bytes: number;
}

/** Canonical form: the content as NDJSON records, one JSON object per line. */
@Operation()
@Injectable()
export class TransformOperation implements ProcessingOperation {
  readonly name = 'transform';
  readonly dependsOn = ['validate'];

  constructor(private readonly config: AppConfig) {}

  async run(context: OperationContext): Promise<OperationOutcome> {
    const content = await readText(await context.openContent(), this.config.limits.uploadBytes);
    const parsed = parseJson(content.text);
    if (!parsed.ok) {
      return failed(parsed.message);
    }
    let recordCount = 0;
    const counted = (function* () {
      for (const record of recordsOf(parsed.value)) {
        recordCount++;
        yield record;
      }
    })();
    const file = await context.writeFile(RECORDS_FILE, ndjsonStream(counted), 'application/x-ndjson');
    const result: TransformResult = { format: 'ndjson', record_count: recordCount, records_file: file.s3Url, bytes: file.size };
    return completed({ ...result });
  }
}
