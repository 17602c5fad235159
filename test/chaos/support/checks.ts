import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { AppConfig } from '../../../src/config/app-config';
import { createS3Client } from '../../../src/storage/s3-client.factory';
import type { ChaosCluster } from './cluster';
import { ObjectOutcome, Submitted, outcomes, waitUntilSettled } from './workload';

/** One property a scenario checks: whether it held, and the figures behind the verdict. */
export interface Check {
  name: string;
  held: boolean;
  detail: string;
}

const TERMINAL = ['completed', 'failed', 'cancelled'];

/** Every submitted object exists exactly once and ended completed, failed with a message, or cancelled. */
export function everyObjectSettledOnce(submitted: Submitted[], rows: ObjectOutcome[], allowed = TERMINAL): Check {
  const byId = new Map<string, number>();
  for (const row of rows) {
    byId.set(row.id, (byId.get(row.id) ?? 0) + 1);
  }
  const missing = submitted.filter((object) => !byId.has(object.id)).length;
  const unsettled = rows.filter((row) => !allowed.includes(row.state));
  const silentFailures = rows.filter((row) => row.state === 'failed' && !row.error_message);
  const duplicatesByIdentifier = rows.length - new Set(rows.map((row) => row.identifier)).size;
  return {
    name: `every object ends once, in ${allowed.join(' or ')}${allowed.includes('failed') ? ' (failed ones with a message, so they can be retried)' : ''}`,
    held: missing === 0 && unsettled.length === 0 && silentFailures.length === 0 && duplicatesByIdentifier === 0,
    detail:
      `${rows.length} objects for ${submitted.length} submissions; missing ${missing}, duplicate identifiers ${duplicatesByIdentifier}, ` +
      `not in an allowed state ${unsettled.length}${unsettled[0] ? ` (e.g. ${unsettled[0].state}${unsettled[0].error_message ? `: "${unsettled[0].error_message}"` : ''})` : ''}, failed without a message ${silentFailures.length}`,
  };
}

/** A completed object has exactly one result artifact per planned operation, in S3 and in its row; nothing more. */
export async function oneArtifactPerOperation(cluster: ChaosCluster, rows: ObjectOutcome[]): Promise<Check> {
  let wrong = 0;
  let example = '';
  await withKeyLister(cluster, async (keysOf) => {
    for (const row of rows.filter((candidate) => candidate.state === 'completed')) {
      const stored = (await keysOf(row.identifier)).filter((key) => key.endsWith('_result.json')).sort();
      const expected = row.plan.map((operation) => `${row.identifier}/${operation}_result.json`).sort();
      const recorded = Object.keys(row.s3_artifacts).sort();
      if (stored.join() !== expected.join() || recorded.join() !== [...row.plan].sort().join()) {
        wrong += 1;
        example ||= `${row.identifier}: stored [${stored.join(', ')}], recorded [${recorded.join(', ')}]`;
      }
    }
  });
  return {
    name: 'exactly one result artifact per planned operation of each completed object',
    held: wrong === 0,
    detail: `${wrong} completed objects differ${example ? ` (e.g. ${example})` : ''}`,
  };
}

/** No operation of a cancelled object started, finished or wrote its result after the cancel. */
export async function nothingAfterCancel(cluster: ChaosCluster, rows: ObjectOutcome[]): Promise<Check> {
  const [late] = await cluster.query<{ count: string }>(
    `select count(*) from object_events e
       join (select object_id, min(seq) as cancelled_at from object_events where snapshot->>'state' = 'cancelled' group by object_id) c
         on c.object_id = e.object_id
      where e.seq > c.cancelled_at`,
  );
  let strayResults = 0;
  await withKeyLister(cluster, async (keysOf) => {
    for (const row of rows.filter((candidate) => candidate.state === 'cancelled')) {
      for (const key of await keysOf(row.identifier)) {
        const operation = /^[^/]+\/(\w+)_result\.json$/.exec(key)?.[1];
        if (operation && !row.operations_status[operation]?.completed) {
          strayResults += 1;
        }
      }
    }
  });
  return {
    name: 'no operation runs on after a cancel',
    held: late!.count === '0',
    detail: `${late!.count} events recorded after a cancel; ${strayResults} result files of cancelled objects whose operation is not recorded as completed (an operation that was running when the cancel landed and finished its write)`,
  };
}

/** Pages through GET /api/v1/objects one object at a time: every object appears exactly once. */
export async function listPagesComplete(cluster: ChaosCluster, submitted: Submitted[]): Promise<Check> {
  const seen = new Map<string, number>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url = new URL(`${cluster.apiUrl}/api/v1/objects`);
    url.searchParams.set('limit', '1');
    if (cursor) {
      url.searchParams.set('cursor', cursor);
    }
    const page = (await (await fetch(url)).json()) as { items: { id: string }[]; next_cursor: string | null };
    pages += 1;
    for (const item of page.items) {
      seen.set(item.id, (seen.get(item.id) ?? 0) + 1);
    }
    cursor = page.next_cursor;
  } while (cursor && pages <= submitted.length * 2);
  const missing = submitted.filter((object) => !seen.has(object.id)).length;
  const repeated = [...seen.values()].filter((count) => count > 1).length;
  return {
    name: 'list pages (limit=1) hold every object exactly once',
    held: missing === 0 && repeated === 0,
    detail: `${pages} pages; ${missing} of ${submitted.length} objects missing, ${repeated} repeated`,
  };
}

/** Samples the queue's active jobs in Redis every 100 ms; reports the most seen at once. */
export class ActiveJobSampler {
  private readonly redis;
  private readonly timer: NodeJS.Timeout;
  private samples = 0;
  private most = 0;

  constructor(private readonly cluster: ChaosCluster) {
    this.redis = cluster.redisClient();
    const key = `${cluster.prefix}:objects:active`;
    this.timer = setInterval(() => {
      this.redis.llen(key).then(
        (active) => {
          this.samples += 1;
          this.most = Math.max(this.most, active);
        },
        () => undefined, // Redis is down in an outage scenario: that moment has no sample.
      );
    }, 100);
  }

  stop(): Check {
    clearInterval(this.timer);
    this.redis.disconnect();
    const limit = this.cluster.options.maxParallelWorkers;
    return {
      name: `the global limit (${limit}) is never exceeded`,
      held: this.most <= limit,
      detail: `at most ${this.most} active jobs in ${this.samples} samples of the active list (every 100 ms)`,
    };
  }
}

type KeysOf = (identifier: string) => Promise<string[]>;

/** Runs `use` with a lister of the keys under one object's prefix (s3rver cannot page a listing, so each object is listed on its own). */
async function withKeyLister<T>(cluster: ChaosCluster, use: (keysOf: KeysOf) => Promise<T>): Promise<T> {
  const config = new AppConfig(cluster.env('api'));
  const client = createS3Client(config.s3);
  const keysOf = async (identifier: string) => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: config.s3.bucket, Prefix: `${identifier}/` }));
    return (page.Contents ?? []).map((entry) => entry.Key!);
  };
  try {
    return await use(keysOf);
  } finally {
    client.destroy();
  }
}

/** The checks every scenario makes on how its objects ended; failed objects are then retried, and must complete. */
export async function outcomeChecks(
  cluster: ChaosCluster,
  submitted: Submitted[],
  rows: ObjectOutcome[],
  allowed = TERMINAL,
): Promise<Check[]> {
  const checks = [
    everyObjectSettledOnce(submitted, rows, allowed),
    await oneArtifactPerOperation(cluster, rows),
    await listPagesComplete(cluster, submitted),
  ];
  return allowed.includes('failed') ? [...checks, await failedOnesCompleteWhenRetried(cluster, rows)] : checks;
}

/** What a user would do with a failed object: POST its retry. Each must then complete. */
async function failedOnesCompleteWhenRetried(cluster: ChaosCluster, rows: ObjectOutcome[]): Promise<Check> {
  const failed = rows.filter((row) => row.state === 'failed');
  const refused: number[] = [];
  for (const row of failed) {
    const response = await fetch(`${cluster.apiUrl}/api/v1/objects/${row.id}/retry`, { method: 'POST' });
    if (response.status !== 202) {
      refused.push(response.status);
    }
  }
  const settled = failed.length === 0 || (await waitUntilSettled(cluster, 120_000)) !== null;
  const ids = new Set(failed.map((row) => row.id));
  const notCompleted = (await outcomes(cluster)).filter((row) => ids.has(row.id) && row.state !== 'completed').length;
  return {
    name: 'every failed object can be retried, and then completes',
    held: refused.length === 0 && settled && notCompleted === 0,
    detail: `${failed.length} failed objects retried: ${refused.length} retries refused, ${notCompleted} not completed afterwards`,
  };
}
