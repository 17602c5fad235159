// Preloaded (NODE_OPTIONS --require) into processes that must take a known while to start: blocks for SLOW_START_MS.
'use strict';

Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.SLOW_START_MS));
