// Preloaded (NODE_OPTIONS --require) into processes that must take a known while to start: blocks for SLOW_START_MS.
'use strict';

const startMs = Number(process.env.SLOW_START_MS);
if (!Number.isFinite(startMs)) {
  throw new Error(`slow-start.cjs needs SLOW_START_MS in milliseconds, not ${String(process.env.SLOW_START_MS)}`);
}
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, startMs);
