'use strict';
// Everything a benchmark starts or creates is undone in reverse order, once, on success, failure or Ctrl-C.
const cleanups = [];
let cleaningUp = null;

function onCleanup(what, action) {
  cleanups.push({ what, action });
}

function cleanUp() {
  cleaningUp ??= (async () => {
    while (cleanups.length) {
      const { what, action } = cleanups.pop();
      try {
        await action();
      } catch (error) {
        console.error(`[bench] clean-up of ${what} failed: ${error.message}`);
      }
    }
  })();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: cleaning up`);
    cleanUp().finally(() => process.exit(130));
  });
}

/** Runs a benchmark's main function, cleans up whatever happened, and exits with its code (0 unless it returns another). */
function runBenchmark(main) {
  main().then(
    async (code) => {
      await cleanUp();
      process.exit(code ?? 0);
    },
    async (error) => {
      console.error(`[bench] failed: ${error.stack ?? error}`);
      await cleanUp();
      process.exit(1);
    },
  );
}

module.exports = { onCleanup, cleanUp, runBenchmark };
