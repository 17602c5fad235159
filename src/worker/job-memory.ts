import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MeasuringStream } from '../operations/content/measure';
import type { LocalContent, SharedBytes } from '../operations/operation';

/** Content up to this size is kept in memory for the rest of its job once read or written. */
export const SMALL_CONTENT_BYTES = 64 * 1024;

export interface KeptContent {
  body: Buffer;
  contentType: string;
}

/** Bytes shared in a job, as the carry holds them: in a file of the job's directory. */
interface SharedFile {
  about: unknown;
  path: string;
}

/**
 * What the operations of one job hand on to the later ones: small content they read or wrote (by
 * S3 key), bytes they share (as files), and the job's local copy of its content. It crosses from the
 * job to each operation's process and back as plain data; a job delivered again starts without it.
 */
export interface JobCarry {
  /**
   * The job's own temporary directory: its local copy of the content and the bytes it shares live here, and go
   * with it. Made by the first run that writes there.
   */
  directory: string;
  contents: [string, KeptContent][];
  shared: [string, SharedFile][];
  local?: LocalContent;
}

/** The memory of one operation run: what it was handed, plus what it adds (handed back by additions()). */
export class JobMemory {
  private readonly contents: Map<string, KeptContent>;
  private readonly shared: Map<string, SharedFile>;
  private readonly added = { contents: new Map<string, KeptContent>(), shared: new Map<string, SharedFile>() };
  private local?: Promise<LocalContent>;
  private downloaded?: LocalContent;

  constructor(private readonly carry: JobCarry) {
    // Buffers arrive from another process as plain Uint8Arrays.
    this.contents = new Map(carry.contents.map(([key, kept]) => [key, { body: asBuffer(kept.body), contentType: kept.contentType }]));
    this.shared = new Map(carry.shared);
    if (carry.local) {
      this.local = Promise.resolve(carry.local);
    }
  }

  get(key: string): KeptContent | undefined {
    return this.contents.get(key);
  }

  keep(key: string, body: Buffer, contentType: string): void {
    if (body.length <= SMALL_CONTENT_BYTES) {
      this.contents.set(key, { body, contentType });
      this.added.contents.set(key, { body, contentType });
    }
  }

  /**
   * Shares bytes through a file: sending megabytes of pixels from one operation's process to the
   * job's and on to the next one's cost more CPU than decoding the image again.
   */
  async share<T>(key: string, { about, bytes }: SharedBytes<T>): Promise<void> {
    const path = join(await this.directory(), `shared-${createHash('sha256').update(key).digest('hex')}`);
    await writeFile(path, bytes);
    this.shared.set(key, { about, path });
    this.added.shared.set(key, { about, path });
  }

  /** Undefined when nothing was shared under `key`, or its file is gone: later operations do without. */
  async sharedBytes<T>(key: string): Promise<SharedBytes<T> | undefined> {
    const shared = this.shared.get(key);
    if (!shared) {
      return undefined;
    }
    try {
      return { about: shared.about as T, bytes: await readFile(shared.path) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * The job's content as a local file, downloaded by the first operation that asks and used by the
   * later ones (validate and thumbnail both decode the same image).
   */
  localContent(open: () => Promise<Readable>, signal: AbortSignal): Promise<LocalContent> {
    if (!this.local) {
      const local = this.download(open, signal);
      this.local = local;
      // A download that failed is not kept: the next operation that asks tries again.
      local.then(
        (content) => (this.downloaded = content),
        () => {
          if (this.local === local) {
            this.local = undefined;
          }
        },
      );
    }
    return this.local;
  }

  /** The job's directory, made if no run has made it yet (only its owner may enter it). */
  private async directory(): Promise<string> {
    try {
      await mkdir(this.carry.directory, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    return this.carry.directory;
  }

  /** What this run added, to be merged into the job's carry. */
  additions(): Omit<JobCarry, 'directory'> {
    return { contents: [...this.added.contents], shared: [...this.added.shared], local: this.downloaded };
  }

  private async download(open: () => Promise<Readable>, signal: AbortSignal): Promise<LocalContent> {
    const path = join(await this.directory(), 'content');
    const measured = new MeasuringStream();
    await pipeline(await open(), measured, createWriteStream(path), { signal });
    return { path, size: measured.size, sha256: measured.sha256 };
  }
}

/**
 * Removes the job directories in `directory` left by worker processes that no longer run (killed in the middle of a
 * job: a local copy of the content may be in there); returns how many. A directory of a process still alive, or of
 * one whose pid was given to another process since, is left alone.
 */
export async function removeAbandonedJobDirectories(directory = tmpdir()): Promise<number> {
  const abandoned = (await readdir(directory)).filter((name) => {
    const pid = Number(/^ops-job-(\d+)-/.exec(name)?.[1]);
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isRunning(pid);
  });
  await Promise.all(abandoned.map((name) => rm(join(directory, name), { recursive: true, force: true })));
  return abandoned.length;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The carry of one job as its processor holds it between operations; release() removes its directory, if a run made it. */
export class JobCarryHolder {
  private constructor(readonly carry: JobCarry) {}

  /**
   * Names the job's directory without making it: a JSON pipeline never writes there, and making and removing a
   * directory per job was 3 % of the worker's CPU. Named after the worker process, so that
   * removeAbandonedJobDirectories knows whose it is, and unguessable, as mkdtemp's names are.
   */
  static create(): JobCarryHolder {
    const directory = join(tmpdir(), `ops-job-${process.pid}-${randomUUID()}`);
    return new JobCarryHolder({ directory, contents: [], shared: [] });
  }

  merge(additions: Omit<JobCarry, 'directory'>): void {
    const contents = new Map(this.carry.contents);
    additions.contents.forEach(([key, kept]) => contents.set(key, kept));
    const shared = new Map(this.carry.shared);
    additions.shared.forEach(([key, value]) => shared.set(key, value));
    this.carry.contents = [...contents];
    this.carry.shared = [...shared];
    this.carry.local = additions.local ?? this.carry.local;
  }

  async release(): Promise<void> {
    await rm(this.carry.directory, { recursive: true, force: true });
  }
}

/** Bytes as a Buffer without copying: a Buffer sent to another process arrives as a plain Uint8Array. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
