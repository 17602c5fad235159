import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosCluster } from './cluster';

export interface Submitted {
  id: string;
  identifier: string;
}

export interface SubmissionFigures {
  requests: number;
  /** Requests answered by a network error or a 5xx, and sent again with the same Idempotency-Key. */
  resent: number;
  /** Keys whose answers named different object ids (must stay empty). */
  conflictingAnswers: string[];
}

/**
 * Submits `count` objects, `parallel` at a time (each sender pausing `pauseMs` between its submissions), each with its own Idempotency-Key; a request that
 * fails on the network or with a 5xx is sent again with the same key and body until it is answered.
 */
export async function submitObjects(
  cluster: ChaosCluster,
  {
    count,
    operations,
    label,
    parallel = 8,
    pauseMs = 0,
  }: { count: number; operations: string[]; label: string; parallel?: number; pauseMs?: number },
): Promise<{ objects: Submitted[]; figures: SubmissionFigures }> {
  const figures: SubmissionFigures = { requests: 0, resent: 0, conflictingAnswers: [] };
  const objects: Submitted[] = [];
  let next = 0;
  const submitOne = async (index: number): Promise<void> => {
    const identifier = `${label}-${String(index).padStart(4, '0')}`;
    const key = `key-${identifier}`;
    const ids = new Set<string>();
    for (;;) {
      figures.requests += 1;
      const response = await fetch(`${cluster.apiUrl}/api/v1/process`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ identifier, operations }),
      }).catch(() => undefined);
      if (response && response.status < 500) {
        const body = (await response.json()) as { id?: string; message?: string };
        if (response.status !== 202 || !body.id) {
          throw new Error(`submission of ${identifier} answered ${response.status}: ${body.message}`);
        }
        ids.add(body.id);
        if (ids.size > 1) {
          figures.conflictingAnswers.push(key);
        }
        objects.push({ id: body.id, identifier });
        return;
      }
      figures.resent += 1;
      await sleep(200);
    }
  };
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        await submitOne(next++);
        if (pauseMs) {
          await sleep(pauseMs);
        }
      }
    }),
  );
  return { objects, figures };
}

/** Waits until no object of the cluster is pending, queued or processing; the ms it took, or null at the timeout. */
export async function waitUntilSettled(cluster: ChaosCluster, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const rows = await cluster
      .query<{ count: string }>(`select count(*) from processing_objects where state in ('pending', 'queued', 'processing')`)
      .catch(() => [{ count: 'unreachable' }]);
    if (rows[0]!.count === '0') {
      return Date.now() - started;
    }
    await sleep(250);
  }
  return null;
}

export interface ObjectOutcome {
  id: string;
  identifier: string;
  state: string;
  plan: string[];
  s3_artifacts: Record<string, string>;
  operations_status: Record<string, { completed?: boolean }>;
  error_message: string | null;
}

export async function outcomes(cluster: ChaosCluster): Promise<ObjectOutcome[]> {
  return cluster.query<ObjectOutcome & Record<string, unknown>>(
    'select id, identifier, state, plan, s3_artifacts, operations_status, error_message from processing_objects order by identifier',
  );
}

/** Counts per state, e.g. { completed: 198, failed: 2 }. */
export function countByState(rows: ObjectOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) {
    counts[row.state] = (counts[row.state] ?? 0) + 1;
  }
  return counts;
}

/** Waits until `count` objects have completed, so a fault lands while the rest are in the queue or running. */
export async function whenCompleted(cluster: ChaosCluster, count: number): Promise<void> {
  for (;;) {
    const [row] = await cluster.query<{ count: string }>(`select count(*) from processing_objects where state = 'completed'`);
    if (Number(row!.count) >= count) {
      return;
    }
    await sleep(100);
  }
}

/** Milliseconds from `since` until no object is unsettled, or null at the timeout. */
export async function settledAfter(cluster: ChaosCluster, since: number, timeoutMs: number): Promise<number | null> {
  return (await waitUntilSettled(cluster, timeoutMs)) === null ? null : Date.now() - since;
}
