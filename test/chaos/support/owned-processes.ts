import { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every process and directory a chaos run started, so they all go even when a scenario throws or
 * Jest exits early. Processes are only ever signalled by the pid this suite got when spawning them.
 */
const children = new Set<ChildProcess>();
const directories = new Set<string>();
const cleanups = new Set<() => void>();

export function own(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function ownDirectory(path: string): string {
  directories.add(path);
  return path;
}

/** A synchronous last-resort cleanup (e.g. stopping a PostgreSQL cluster) run at exit if still registered. */
export function onExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export function removeDirectory(path: string): void {
  rmSync(path, { recursive: true, force: true });
  directories.delete(path);
}

export function killAllOwned(): void {
  for (const cleanup of [...cleanups]) {
    try {
      cleanup();
    } catch (error) {
      console.error(`chaos cleanup failed: ${(error as Error).message}`);
    }
  }
  cleanups.clear();
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
  for (const path of directories) {
    rmSync(path, { recursive: true, force: true });
  }
  directories.clear();
}

process.once('exit', killAllOwned);
