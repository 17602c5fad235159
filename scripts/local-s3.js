'use strict';
// A local S3-protocol server (s3rver) for development and tests when S3_ENDPOINT is not set: in the calling
// process (startLocalS3), or in a process of its own (spawnLocalS3), so that its event loop is not the caller's.
const { fork } = require('node:child_process');
const net = require('node:net');
const S3rver = require('s3rver');

// s3rver emits listen errors instead of rejecting, so a busy port is detected beforehand.
function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', () =>
      reject(new Error(`Port ${port} for the local S3 is in use; stop what uses it, or set LOCAL_S3_PORT or S3_ENDPOINT`)),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(resolve));
  });
}

/** The endpoint and the variables that point the service at a local S3 on `port`. */
function describeLocalS3(port) {
  return {
    endpoint: `http://127.0.0.1:${port}`,
    env: {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
  };
}

/** Starts s3rver in this process on `port` (0 = any free port) and returns its endpoint and a stop function. */
async function startLocalS3({ directory, port = 0, silent = true }) {
  if (port !== 0) {
    await assertPortFree(port);
  }
  const server = new S3rver({ address: '127.0.0.1', port, directory, silent, allowMismatchedSignatures: true });
  const address = await server.run();
  return { ...describeLocalS3(address.port), stop: () => server.close() };
}

/**
 * Starts s3rver in a child process (this file, run with its options) and resolves once it listens, with its
 * endpoint, pid and a stop function. The child is in a process group of its own, so a Ctrl-C at the terminal
 * reaches only the parent, which may still need S3 while it shuts down; the child ends when the parent's IPC
 * channel closes, which happens whenever the parent exits, even when it is killed. The child prints nothing
 * but errors, and does not keep the parent alive.
 */
function spawnLocalS3({ directory, port = 0 }) {
  const child = fork(__filename, [JSON.stringify({ directory, port })], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
    execArgv: [],
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`The local S3 process exited (${code ?? signal}) before it listened`)));
    child.once('message', (message) => {
      if (message.type !== 'listening') {
        reject(new Error(message.error));
        return;
      }
      child.unref();
      child.channel.unref();
      resolve({
        ...describeLocalS3(message.port),
        pid: child.pid,
        async stop() {
          // Unreferenced, the child would not keep this process alive until it has exited: whoever awaits stop()
          // would be cut short when nothing else is left to run.
          child.ref();
          if (child.connected) {
            child.disconnect();
          }
          return exited;
        },
      });
    });
  });
}

/** The child side of spawnLocalS3: serves until the parent goes away. */
async function serveForParent({ directory, port }) {
  let s3;
  try {
    s3 = await startLocalS3({ directory, port });
  } catch (error) {
    process.send({ type: 'failed', error: error.message }, () => process.exit(1));
    return;
  }
  process.once('disconnect', () => {
    s3.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(`The local S3 did not close cleanly: ${error.message}`);
        process.exit(1);
      },
    );
  });
  process.send({ type: 'listening', port: Number(new URL(s3.endpoint).port) });
}

if (require.main === module) {
  void serveForParent(JSON.parse(process.argv[2]));
}

module.exports = { startLocalS3, spawnLocalS3 };
