'use strict';
// Helpers shared by the benchmarks.
const { Client } = require('pg');

/** Drops the database of `databaseUrl` (connecting to the server's `postgres` database to do it). */
async function dropDatabase(databaseUrl) {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

module.exports = { dropDatabase };
