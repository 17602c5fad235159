'use strict';
/*
 * Scenario "quickstart": the write, pipeline and read workloads (bench/lib/workloads.js) on the Quick start as
 * shipped (`node scripts/start-local.js`, one process, access control on), each beside bench/baselines/lean-service.js.
 *
 *   node bench/scenarios/quickstart.js      # after `npm run build`; npm run bench runs it with the others
 */
const { runBenchmark } = require('../lib/cleanup');
const { runWorkloads } = require('../lib/workloads');

runBenchmark(() => runWorkloads('quickstart'));
