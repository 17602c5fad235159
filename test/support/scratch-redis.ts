import { ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './wait-for';

/** A real redis-server of the test's own, on a fixed port so it can be stopped and started again there. */
export class ScratchRedis {
  private child?: ChildProcess;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      '/usr/bin/redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      () =>
        /Ready to accept connections/.test(output) ||
        (child.exitCode !== null ? Promise.reject(new Error(`redis-server exited: ${output}`)) : false),
      { timeoutMs: 20_000, what: `redis-server on port ${this.port} to accept connections` },
    );
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  get running(): boolean {
    return this.child !== undefined;
  }
}
