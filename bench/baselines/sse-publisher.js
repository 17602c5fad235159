'use strict';
/*
 * Publisher of the "live" baseline (forked with IPC). It replays a trace of the service's run: the same
 * objects, the same events per object, each PUBLISHed at the same offset from the start as the service's
 * worker published it, with the same progress JSON, as "<object id> <seq> <last 0|1> <Date.now()> <JSON>"
 * on RELAY_CHANNEL through one ioredis connection.
 * Messages: { type: 'prime', trace } publishes every object's snapshot and answers 'primed';
 * { type: 'go' } replays the events and answers 'published' with their count.
 */
const fs = require('node:fs');
const { Redis } = require('ioredis');

const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
const channel = process.env.RELAY_CHANNEL;
let trace = null;

const message = (event) => `${event.object} ${event.seq} ${event.last ? 1 : 0} ${Date.now()} ${event.data}`;

function replay(events) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let next = 0;
    const tick = () => {
      const elapsed = Date.now() - start;
      while (next < events.length && events[next].offset <= elapsed) {
        redis.publish(channel, message(events[next++])).catch(reject);
      }
      if (next < events.length) {
        setTimeout(tick, Math.max(0, events[next].offset - (Date.now() - start)));
      } else {
        resolve(next);
      }
    };
    tick();
  });
}

process.on('message', async (command) => {
  try {
    if (command.type === 'prime') {
      trace = JSON.parse(fs.readFileSync(command.traceFile, 'utf8'));
      await Promise.all(trace.snapshots.map((snapshot) => redis.publish(channel, message(snapshot))));
      process.send({ type: 'primed' });
    } else if (command.type === 'go') {
      const count = await replay(trace.events);
      await redis.ping();
      process.send({ type: 'published', count });
    }
  } catch (error) {
    process.send({ type: 'failed', error: error.stack ?? String(error) });
  }
});
process.on('disconnect', () => {
  redis.disconnect();
  process.exit(0);
});
