'use strict';
/*
 * Preloaded with `--require` (NODE_OPTIONS does not allow --cpu-prof): profiles the whole life of the process
 * and writes a .cpuprofile into <tmpdir>/ops-bench-profiles when it exits, named by role, script and pid.
 * Forked operation processes inherit NODE_OPTIONS and are profiled too.
 *
 *   BENCH_SERVICE_NODE_OPTIONS="--require $PWD/bench/lib/cpu-profile.js" node bench/scenarios/split.js
 */
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');
const os = require('node:os');

// The harness gives the service a fresh environment, so the place is fixed rather than read from it.
const directory = path.join(os.tmpdir(), 'ops-bench-profiles');
fs.mkdirSync(directory, { recursive: true });

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
const write = () => {
  // Same-thread inspector sessions answer synchronously, so this runs to the end inside 'exit' or a signal handler.
  session.post('Profiler.stop', (error, result) => {
    if (!error) {
      const name = `${process.env.APP_ROLE ?? 'process'}-${process.argv[1] ? path.basename(process.argv[1], '.js') : 'node'}-${process.pid}.cpuprofile`;
      fs.writeFileSync(path.join(directory, name), JSON.stringify(result.profile));
    }
  });
};
process.once('exit', write);
// A forked child (an operation process) is ended by a signal, not by exiting: it writes its profile first.
if (typeof process.send === 'function') {
  process.once('SIGTERM', () => {
    write();
    process.exit(143);
  });
}
