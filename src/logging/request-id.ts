import { AsyncLocalStorage } from 'node:async_hooks';

const requestIds = new AsyncLocalStorage<string>();

/** Runs `handling` with `id` as the current request's id (see logRequests). */
export function runWithRequestId<T>(id: string, handling: () => T): T {
  return requestIds.run(id, handling);
}

/** The id of the request being handled, if any: a job carries it, so that its log lines name the request that queued it. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
