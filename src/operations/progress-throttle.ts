import type { OperationContext } from './operation';

/** Reports progress within a long loop at most once per interval, and honours cancellation. */
export class ProgressThrottle {
  private lastReport = Date.now();

  constructor(
    private readonly context: OperationContext,
    private readonly intervalMs = 500,
  ) {}

  async report(message: string): Promise<void> {
    this.context.signal.throwIfAborted();
    if (Date.now() - this.lastReport >= this.intervalMs) {
      this.lastReport = Date.now();
      await this.context.reportProgress(message);
    }
  }
}
