'use strict';
/*
 * Scenario "split": the write, pipeline and read workloads (bench/lib/workloads.js) on separate API and
 * worker processes of the built service, each beside bench/baselines/lean-service.js.
 *
 *   node bench/scenarios/split.js      # after `npm run build`; npm run bench runs it with the others
 */
const { runBenchmark } = require('../lib/cleanup');
const { runWorkloads } = require('../lib/workloads');

runBenchmark(() => runWorkloads('split'));
