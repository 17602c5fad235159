import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { ProgressResponse } from '../src/objects/dto/object.responses';
import { closeDatabase, objectRow } from './support/database';
import { CONTENT_SETTLE_MS, CONTENT_TEST_MS, waitUntilSettled } from './support/objects';
import { S3FaultProxy } from './support/s3-fault-proxy';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { waitFor } from './support/wait-for';

/** The operation processes of the test app, which runs in this jest process: its children running the operation script. */
function operationProcesses(): number[] {
  const { stdout } = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return stdout
    .split('\n')
    .filter((line) => line.includes('operation-process.js'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/**
 * Runs `body` with the given variables in this process's environment (a variable given undefined is unset), then puts
 * them back: the processes of operation pools created meanwhile inherit them.
 */
async function withEnvironment<T>(variables: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const assign = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
  };
  assign(variables);
  try {
    return await body();
  } finally {
    assign(saved);
  }
}

function largeCsv(rows: number): Buffer {
  const lines = ['id,name,score'];
  for (let i = 0; i < rows; i++) {
    lines.push(`${i},customer-${i % 9973},${(i * 7919) % 1000}.${i % 10}`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

async function submitPayload(service: TestApp, label: string, options: Record<string, unknown> = {}): Promise<string> {
  const submitted = await request(service.baseUrl)
    .post('/api/v1/process')
    .send({ identifier: uniqueIdentifier(label), operations: ['validate'], payload: [{ a: 1 }], options })
    .expect(202);
  return (submitted.body as { id: string }).id;
}

/** Submits a CSV of `rows` rows as a file; returns the object's id. */
async function submitCsv(service: TestApp, label: string, operations: string[], rows: number): Promise<string> {
  const submitted = await request(service.baseUrl)
    .post('/api/v1/process')
    .field('identifier', uniqueIdentifier(label))
    .field('operations', JSON.stringify(operations))
    .attach('file', largeCsv(rows), { filename: 'rows.csv', contentType: 'text/csv' })
    .expect(202);
  return (submitted.body as { id: string }).id;
}

/**
 * Until an operation (`operation`, or any) reports progress from its process (it runs there, not only about to be
 * sent); returns its name.
 */
async function untilReporting(service: TestApp, id: string, operation?: string): Promise<string> {
  return waitFor(
    async () => {
      const { progress } = (await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as ProgressResponse;
      return new RegExp(`^(${operation ?? '\\w+'}): `).exec(progress.message)?.[1] ?? false;
    },
    { timeoutMs: 60_000, intervalMs: 20, what: `${operation ?? 'an operation'} to report progress` },
  );
}

describe('operation processes', () => {
  let service: TestApp | undefined;

  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  afterAll(() => closeDatabase());

  it('runs operations at the lower CPU priority of OPERATION_PROCESS_NICE, every thread of their process (never above the worker’s own)', async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '1', OPERATION_PROCESS_NICE: '7' });
    expect((await waitUntilSettled(service.baseUrl, await submitPayload(service, 'nice'))).state).toBe('completed');
    const niceOf = (stat: string) => Number(stat.split(') ')[1]!.split(' ')[16]);
    const threadsOf = (pid: number) =>
      readdirSync(`/proc/${pid}/task`).map((thread) => readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8'));
    const [child] = operationProcesses();
    expect(child).toBeDefined();
    const threads = threadsOf(child!);
    // V8's and libuv's threads as well as the main one.
    expect(threads.length).toBeGreaterThan(1);
    expect(threads.map(niceOf)).toEqual(threads.map(() => Math.max(7, niceOf(readFileSync('/proc/self/stat', 'utf8')))));
  });

  it('runs a small object within the smallest memory budget an object may ask for (64 MB)', async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '1' });
    const settled = await waitUntilSettled(service.baseUrl, await submitPayload(service, 'tiny-64', { budget: { memory_mb: 64 } }));
    expect({ state: settled.state, error: settled.error_message }).toEqual({ state: 'completed', error: null });
  });

  it('starts its operation processes before taking jobs, and keeps them', async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '3', OPERATION_PROCESSES: '3' });
    const started = operationProcesses();
    expect(started).toHaveLength(3);
    const ids = await Promise.all(['a', 'b', 'c', 'd'].map((label) => submitPayload(service!, `warm-${label}`)));
    for (const id of ids) {
      expect((await waitUntilSettled(service.baseUrl, id)).state).toBe('completed');
    }
    expect(operationProcesses().sort()).toEqual(started.sort());
  });

  it('starts its operation processes with 4 MiB semi-spaces, scavenges on request and a 64 KiB malloc mmap threshold, unless the operator set one', async () => {
    /** How the operation process starts when the worker's own environment has `threshold`. */
    const startedWith = async (threshold: string | undefined) => {
      service = await withEnvironment({ MALLOC_MMAP_THRESHOLD_: threshold }, () =>
        startTestApp({ MAX_PARALLEL_WORKERS: '1', OPERATION_PROCESSES: '1' }),
      );
      const [child] = operationProcesses();
      const read = (file: string) => readFileSync(`/proc/${child!}/${file}`, 'utf8').split('\0');
      const started = {
        semiSpace: read('cmdline')
          .filter((arg) => arg.startsWith('--max-semi-space-size'))
          .at(-1),
        scavengesOnRequest: read('cmdline').includes('--expose-gc'),
        threshold: read('environ').find((entry) => entry.startsWith('MALLOC_MMAP_THRESHOLD_=')),
      };
      await service.close();
      service = undefined;
      return started;
    };
    expect(await startedWith(undefined)).toEqual({
      semiSpace: '--max-semi-space-size=4',
      scavengesOnRequest: true,
      threshold: 'MALLOC_MMAP_THRESHOLD_=65536',
    });
    expect((await startedWith('262144')).threshold).toBe('MALLOC_MMAP_THRESHOLD_=262144');
  });

  it(
    'runs more jobs at once than it has processes (OPERATION_PROCESSES): the others wait for one, outside their time budget',
    async () => {
      service = await startTestApp({ MAX_PARALLEL_WORKERS: '2', OPERATION_PROCESSES: '1' });
      expect(operationProcesses()).toHaveLength(1);
      // transform of a large CSV holds the only process for seconds (4 s here); a small object waits for it. Its budget is
      // shorter than that wait, yet far longer than its validate takes on a busy machine (300 ms did not always suffice in CI).
      const budgetMs = 1500;
      const longId = await submitCsv(service, 'holds-the-process', ['transform'], 1_000_000);
      await untilReporting(service, longId, 'transform');
      const small = await submitPayload(service, 'waits-for-the-process', { budget: { time_ms: budgetMs } });
      const settled = await waitUntilSettled(service.baseUrl, small, CONTENT_SETTLE_MS);
      expect({ state: settled.state, error: settled.error_message }).toEqual({ state: 'completed', error: null });
      // Its run did last longer than its budget, waiting for the process: transform was still running.
      expect(settled.operations_status.validate?.duration_ms).toBeGreaterThan(budgetMs);
      expect((await waitUntilSettled(service.baseUrl, longId, CONTENT_SETTLE_MS)).state).toBe('completed');
      expect(operationProcesses()).toHaveLength(1);
    },
    CONTENT_TEST_MS,
  );

  it('keeps no process for a per-object budget once its run is over: their number stays bounded', async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '1' });
    for (const memoryMb of [96, 160, 224, 288]) {
      expect(
        (await waitUntilSettled(service.baseUrl, await submitPayload(service, `budget-${memoryMb}`, { budget: { memory_mb: memoryMb } })))
          .state,
      ).toBe('completed');
    }
    await waitFor(() => operationProcesses().length <= 1, { timeoutMs: 10_000, what: 'only the default pool’s process to remain' });
  });

  it('counts a time budget from the start of the operation, not from the boot of its process', async () => {
    // Every operation process takes at least 2 s to start; the operation itself takes milliseconds.
    const bootMs = 2000;
    const budgetMs = 1000;
    const settled = await withEnvironment(
      {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(join(__dirname, 'support', 'slow-start.cjs'))}`,
        SLOW_START_MS: String(bootMs),
      },
      async () => {
        service = await startTestApp({ MAX_PARALLEL_WORKERS: '1' });
        // A pool of its own (another memory budget) boots a process for this run.
        return waitUntilSettled(
          service.baseUrl,
          await submitPayload(service, 'cold-pool', { budget: { time_ms: budgetMs, memory_mb: 96 } }),
        );
      },
    );
    expect({ state: settled.state, error: settled.error_message }).toEqual({ state: 'completed', error: null });
    // The run did include the process's boot, which alone is longer than the budget.
    expect(settled.operations_status.validate?.duration_ms).toBeGreaterThan(bootMs);
    // Above the wait for the object, so that the environment is put back before the next test.
  }, 90_000);

  it('gives a run to another process when the idle one it was given had died', async () => {
    service = await startTestApp({ MAX_PARALLEL_WORKERS: '1', JOB_ATTEMPTS: '1' });
    await waitFor(() => operationProcesses().length === 1, { what: 'the warm operation process' });
    operationProcesses().forEach((pid) => process.kill(pid, 'SIGKILL'));
    await waitFor(() => operationProcesses().length === 0, { what: 'the warm process to be gone' });
    const settled = await waitUntilSettled(service.baseUrl, await submitPayload(service, 'after-idle-death'));
    expect({ state: settled.state, error: settled.error_message }).toEqual({ state: 'completed', error: null });
  });

  it(
    'says in plain words that an operation process crashed, and retries it as an unexpected failure',
    async () => {
      service = await startTestApp({ MAX_PARALLEL_WORKERS: '1', JOB_ATTEMPTS: '1' });
      const id = await submitCsv(service, 'segv', ['analyze'], 1_000_000);
      const operation = await untilReporting(service, id);
      operationProcesses().forEach((pid) => process.kill(pid, 'SIGSEGV'));
      const settled = await waitUntilSettled(service.baseUrl, id, CONTENT_SETTLE_MS);
      expect(settled).toMatchObject({
        state: 'failed',
        error_message: `${operation} failed after 1 attempt(s): its operation process ended unexpectedly`,
      });
      expect(await objectRow(id)).toMatchObject({ error_code: 'operation_failed' });
      expect((await waitUntilSettled(service.baseUrl, await submitPayload(service, 'after-crash'))).state).toBe('completed');
    },
    CONTENT_TEST_MS,
  );
});

describe('an S3 error for one object while S3 serves everything else', () => {
  let proxy: S3FaultProxy;
  let service: TestApp;

  beforeAll(async () => {
    proxy = await S3FaultProxy.start(process.env.S3_ENDPOINT!);
    service = await startTestApp({
      S3_ENDPOINT: proxy.endpoint,
      MAX_PARALLEL_WORKERS: '1',
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '100',
      DEPENDENCY_RETRY_MS: '100',
    });
  });

  afterAll(async () => {
    await service?.close();
    await proxy?.close();
    await closeDatabase();
  });

  it('is not an outage: it spends the object’s attempts, then fails it', async () => {
    const identifier = uniqueIdentifier('s3-500');
    proxy.fault = {
      status: 500,
      code: 'InternalError',
      message: 'We encountered an internal error',
      when: (path) => path.includes(`${identifier}/validate_result`),
    };
    const submitted = await request(service.baseUrl)
      .post('/api/v1/process')
      .send({ identifier, operations: ['validate'], payload: [{ a: 1 }] })
      .expect(202);
    const settled = await waitUntilSettled(service.baseUrl, (submitted.body as { id: string }).id, 60_000);
    expect(settled.state).toBe('failed');
    expect(settled.error_message).toBe('Processing was given up: validate: We encountered an internal error');
    expect(proxy.faulted).toBeGreaterThanOrEqual(2);
  }, 90_000);
});
