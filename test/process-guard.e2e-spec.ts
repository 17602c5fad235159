import { spawn } from 'node:child_process';
import { join } from 'node:path';

const GUARD = join(__dirname, '..', 'dist', 'src', 'common', 'process-guard.js');

/** Runs `script` in a fresh Node process with the service's process guard installed first (as main.ts does). */
function runGuarded(script: string): Promise<{ code: number | null; output: string }> {
  const program = `require(${JSON.stringify(GUARD)}).installProcessGuard();\n${script}`;
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe('the process guard', () => {
  it('logs a promise rejected in an event handler, with its stack, and keeps the process running', async () => {
    const { code, output } = await runGuarded(`
      const { EventEmitter } = require('node:events');
      const worker = new EventEmitter();
      worker.on('failed', () => {
        void (async function recordFailure() { throw new Error('database unreachable'); })();
      });
      worker.emit('failed');
      setTimeout(() => { console.log('still serving'); process.exit(0); }, 200);
    `);

    expect(output).toMatch(/Unhandled promise rejection \(the process goes on\): database unreachable/);
    expect(output).toMatch(/at recordFailure/);
    expect(output).toContain('still serving');
    expect(code).toBe(0);
  });

  it('logs an uncaught exception and exits with status 1', async () => {
    const { code, output } = await runGuarded(`
      setTimeout(function brokenTimer() { throw new Error('state is broken'); }, 0);
      setTimeout(() => { console.log('should not get here'); process.exit(0); }, 500);
    `);

    expect(output).toMatch(/Uncaught exception \(uncaughtException\); exiting: state is broken/);
    expect(output).not.toContain('should not get here');
    expect(code).toBe(1);
  });
});
