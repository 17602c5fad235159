'use strict';
// A local S3-protocol server (s3rver) for development and tests when S3_ENDPOINT is not set.
const net = require('node:net');
const S3rver = require('s3rver');

// s3rver emits listen errors instead of rejecting, so a busy port is detected beforehand.
function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', () => reject(new Error(`Port ${port} for the local S3 is in use; stop what uses it, or set LOCAL_S3_PORT or S3_ENDPOINT`)));
    probe.listen(port, '127.0.0.1', () => probe.close(resolve));
  });
}

/** Starts s3rver on `port` (0 = any free port) and returns its endpoint and a stop function. */
async function startLocalS3({ directory, port = 0, silent = true }) {
  if (port !== 0) await assertPortFree(port);
  const server = new S3rver({ address: '127.0.0.1', port, directory, silent, allowMismatchedSignatures: true });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    env: {
      S3_ENDPOINT: `http://127.0.0.1:${address.port}`,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    stop: () => server.close(),
  };
}

module.exports = { startLocalS3 };
