import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ContentTooLargeError, parseJson, readText } from './content/json-text';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, completed, failed } from './operation';
import { compileJsonSchema, readOptions } from './operation-options';

@Operation()
@Injectable()
export class ValidateOperation implements ProcessingOperation {
  readonly name = 'validate';
  readonly dependsOn = [];

  constructor(private readonly config: AppConfig) {}

  async run(context: OperationContext): Promise<OperationOutcome> {
    const contentType = context.object.source?.content_type ?? 'application/json';
    if (contentType !== 'application/json') {
      return failed(`Unsupported content type ${contentType}`);
    }
    let content;
    try {
      content = await readText(await context.openContent(), this.config.limits.uploadBytes);
    } catch (error) {
      if (error instanceof ContentTooLargeError) {
        return failed(`Content is too large: it ${error.message}`);
      }
      throw error;
    }
    const parsed = parseJson(content.text);
    if (!parsed.ok) {
      return failed(parsed.message);
    }
    const schema = readOptions(context.object.options).validate?.json_schema;
    if (schema) {
      const validateAgainstSchema = compileJsonSchema(schema);
      if (!validateAgainstSchema(parsed.value)) {
        const [problem] = validateAgainstSchema.errors ?? [];
        const where = problem?.instancePath || '/';
        return failed(`Content does not match the JSON Schema at ${where}: ${problem?.message ?? 'invalid'}`);
      }
    }
    return completed({
      valid: true,
      content_type: contentType,
      size: content.size,
      sha256: content.sha256,
      json_kind: Array.isArray(parsed.value) ? 'array' : parsed.value === null ? 'null' : typeof parsed.value,
      record_count: Array.isArray(parsed.value) ? parsed.value.length : 1,
      json_schema: schema ? 'passed' : 'not_provided',
    });
  }
}
