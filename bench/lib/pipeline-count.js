'use strict';
/*
 * Preloaded into a worker process (NODE_OPTIONS=--require …) by bench/scenarios/pipeline.js when
 * BENCH_PIPELINE_COUNT=1: counts the round trips the process makes — S3 commands, PostgreSQL queries,
 * Redis commands, by name — and writes them to $PIPELINE_COUNT_FILE when the process exits.
 */
const fs = require('node:fs');
const path = require('node:path');

const counts = { s3: {}, postgres: {}, redis: {} };
const add = (kind, name) => (counts[kind][name] = (counts[kind][name] ?? 0) + 1);
const fromApp = (name) => require(require.resolve(name, { paths: [process.cwd(), path.resolve(__dirname, '..', '..')] }));

const { Client } = fromApp('pg');
const query = Client.prototype.query;
Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : (config?.text ?? '');
  add('postgres', text.replace(/\s+/g, ' ').trim().slice(0, 60));
  return query.call(this, config, ...rest);
};

const { S3Client } = fromApp('@aws-sdk/client-s3');
const send = S3Client.prototype.send;
S3Client.prototype.send = function (command, ...rest) {
  add('s3', command.constructor.name);
  return send.call(this, command, ...rest);
};

const { Redis } = fromApp('ioredis');
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (command, ...rest) {
  const name =
    command.name === 'evalsha' || command.name === 'eval' ? `${command.name} ${String(command.args?.[1] ?? '').slice(0, 0)}` : command.name;
  add('redis', name);
  return sendCommand.call(this, command, ...rest);
};

process.on('exit', () => {
  if (process.env.PIPELINE_COUNT_FILE) {
    fs.writeFileSync(process.env.PIPELINE_COUNT_FILE, JSON.stringify(counts, null, 2));
  }
});
