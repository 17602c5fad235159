import { Injectable } from '@nestjs/common';

/** Set once the process has been asked to stop: readiness turns false before anything closes. */
@Injectable()
export class ShutdownSignal {
  private since?: Date;

  begin(): void {
    this.since ??= new Date();
  }

  get active(): boolean {
    return this.since !== undefined;
  }
}
