import { Logger } from '@nestjs/common';

/**
 * What the process does with an error nobody handled.
 *
 * An unhandled promise rejection is logged with its stack and the process goes on: the code that
 * created the promise has already moved on, so nothing was left half-done by the throw itself, and
 * one forgotten `.catch` (say, a database write fired from an event handler during an outage) must
 * not take down every other job and request of the process. Node's default would exit.
 *
 * An uncaught exception is logged and the process exits with status 1, as Node recommends: it
 * unwound a synchronous stack at an unknown point, so the process may hold broken state (a half-
 * updated structure, a lock or stream never released) that no code will repair. Exiting lets the
 * orchestrator start a clean process; its jobs resume through BullMQ's stall check.
 */
export function installProcessGuard(logger = new Logger('Process')): void {
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error(`Unhandled promise rejection (the process goes on): ${describe(reason)}`, stackOf(reason));
  });
  process.on('uncaughtException', (error: Error, origin: string) => {
    logger.fatal(`Uncaught exception (${origin}); exiting: ${describe(error)}`, stackOf(error));
    process.exit(1);
  });
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

function stackOf(reason: unknown): string | undefined {
  return reason instanceof Error ? reason.stack : undefined;
}
