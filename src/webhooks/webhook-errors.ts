import { HttpStatus } from '@nestjs/common';
import { DomainError } from '../common/domain-errors';
import { ErrorCode } from '../common/error-codes';

export class WebhookNotFoundError extends DomainError {
  constructor(id: string) {
    super(HttpStatus.NOT_FOUND, ErrorCode.WebhookNotFound, `Webhook ${id} not found`);
  }
}

export class WebhookDestinationRefusedError extends DomainError {
  constructor(field: string, reason: string) {
    super(HttpStatus.BAD_REQUEST, ErrorCode.WebhookDestinationRefused, reason, [{ field, message: reason }]);
  }
}
