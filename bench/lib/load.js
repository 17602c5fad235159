'use strict';
// Load from the harness process: autocannon runs, awaited.
const autocannon = require('autocannon');

/** One autocannon run of `durationS` seconds with `options`; resolves with its result, rejects on its error. */
function runLoad(options, durationS) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ ...options, duration: durationS, timeout: 10 }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
    instance.on('error', reject);
  });
}

module.exports = { runLoad };
