import { Injectable } from '@nestjs/common';
import { Operation, OperationContext, OperationOutcome, ProcessingOperation, failed } from './operation';

/** Image thumbnails. Only images qualify, and the service accepts no image content yet. */
@Operation()
@Injectable()
export class ThumbnailOperation implements ProcessingOperation {
  readonly name = 'thumbnail';
  readonly dependsOn = ['validate'];

  async run(context: OperationContext): Promise<OperationOutcome> {
    const validation = await context.readResult<{ content_type: string }>('validate');
    return failed(`thumbnail requires an image; content is ${validation.content_type}`);
  }
}
