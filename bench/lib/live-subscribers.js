'use strict';
/*
 * SSE subscribers of the "live" scenario, as a process of their own (forked with IPC), identical for
 * the service and the baseline relay. The parent sends { type: 'open', streams: [{ object, url }], connectConcurrency };
 * this process opens them all with node:http (one agent, no socket limit), answers 'ready' once every stream has
 * had its first event (the snapshot), then records every event's id and arrival time (Date.now(), read once per
 * socket read) until every stream has ended, and answers 'done' with the path of a JSON file of what it saw.
 * The parser does the least an SSE client must: split frames on a blank line, take the `id:` line. It never parses
 * the JSON data, so its CPU does not depend on which server it listens to.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function openStream(stream, record) {
  return new Promise((resolve, reject) => {
    const state = { object: stream.object, ids: [], times: [], bytes: 0, ended: false, error: null, status: null };
    let buffer = '';
    let settled = false;
    const request = http.get(stream.url, { agent, headers: { accept: 'text/event-stream' } }, (response) => {
      state.status = response.statusCode;
      if (response.statusCode !== 200) {
        response.resume();
        settled = true;
        reject(new Error(`${stream.url}: HTTP ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        const now = Date.now();
        state.bytes += chunk.length;
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const at = frame.startsWith('id: ') ? 0 : frame.indexOf('\nid: ');
          if (at === -1) {
            continue;
          }
          const from = at === 0 ? 4 : at + 5;
          const to = frame.indexOf('\n', from);
          state.ids.push(Number(frame.slice(from, to === -1 ? undefined : to)));
          state.times.push(now);
          if (!settled && state.ids.length === 1) {
            settled = true;
            resolve(state);
          }
        }
      });
      response.on('close', () => {
        if (!response.complete) {
          state.error ??= 'closed before its end';
        }
        if (!state.ended) {
          state.ended = true;
          record.ended();
        }
        if (!settled) {
          settled = true;
          reject(new Error(`${stream.url}: ended before its first event`));
        }
      });
      response.on('error', (error) => {
        state.error = error.message;
      });
    });
    request.on('error', (error) => {
      state.error = error.message;
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
  });
}

async function openAll(streams, concurrency) {
  const states = new Array(streams.length);
  let remaining = streams.length;
  let onAllEnded;
  const allEnded = new Promise((resolve) => (onAllEnded = resolve));
  const record = {
    ended: () => {
      remaining -= 1;
      if (remaining === 0) {
        onAllEnded();
      }
    },
  };
  let next = 0;
  const opener = async () => {
    while (next < streams.length) {
      const index = next++;
      states[index] = await openStream(streams[index], record);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, streams.length) }, opener));
  return { states, allEnded };
}

process.on('message', async (message) => {
  if (message.type !== 'open') {
    return;
  }
  try {
    const started = Date.now();
    const { states, allEnded } = await openAll(message.streams, message.connectConcurrency ?? 100);
    process.send({ type: 'ready', connectMs: Date.now() - started });
    await allEnded;
    const file = path.join(message.outDir, `subscribers-${process.pid}-${Date.now()}.json`);
    fs.writeFileSync(file, JSON.stringify(states));
    process.send({ type: 'done', file });
  } catch (error) {
    process.send({ type: 'failed', error: error.stack ?? String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
