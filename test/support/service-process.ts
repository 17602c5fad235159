import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait-for';

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = join(__dirname, '..', '..', 'dist', 'src', 'main.js');
/** What `npm start` runs once it has installed and built. */
export const START_LOCAL = join(__dirname, '..', '..', 'scripts', 'start-local.js');

/**
 * The built service (`npm run build` output) as a separate OS process with the given environment. It runs in
 * `cwd`, where it reads a `.env` if there is one: by default this directory, which has none, so a developer's
 * own .env never reaches a test. `script` may be START_LOCAL instead.
 */
export function spawnService(
  env: Record<string, string>,
  { cwd = __dirname, script = MAIN }: { cwd?: string; script?: string } = {},
): ServiceProcess {
  const child = spawn(process.execPath, [script], { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: async (pattern, timeoutMs = 30_000) => {
      await waitFor(() => pattern.test(output) || (child.exitCode !== null ? Promise.reject(new Error(`exited: ${output}`)) : false), {
        timeoutMs,
        what: `${pattern} in the output of the service process`,
      });
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
      }
      return exited;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
