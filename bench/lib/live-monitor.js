'use strict';
/*
 * Publish times of the "live" scenario (forked with IPC), the same way for both sides: it SUBSCRIBEs to
 * the channel the server listens to and keeps, for every message, the object, the sequence number and the
 * time the publishing process stamped on it (the service's worker puts `at` in its change messages; the
 * baseline publisher puts it in its message prefix), plus, for diagnosis only, when it got the message and whether it carried its event.
 * { type: 'start', channel, format: 'service'|'relay' } → 'listening'; { type: 'stop', file } → 'stopped'.
 */
const fs = require('node:fs');
const { Redis } = require('ioredis');

const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
let stamps = [];
let format = 'service';

redis.on('message', (_channel, message) => {
  if (format === 'service') {
    const change = JSON.parse(message);
    stamps.push([change.id, change.version, change.at ?? null, Date.now(), change.event ? 1 : 0]);
  } else {
    const [object, seq, , at] = message.split(' ', 4);
    stamps.push([object, Number(seq), Number(at), Date.now(), 1]);
  }
});

process.on('message', async (command) => {
  if (command.type === 'start') {
    stamps = [];
    format = command.format;
    await redis.subscribe(command.channel);
    process.send({ type: 'listening' });
  } else if (command.type === 'stop') {
    await redis.unsubscribe();
    fs.writeFileSync(command.file, JSON.stringify(stamps));
    process.send({ type: 'stopped', count: stamps.length });
  }
});
process.on('disconnect', () => {
  redis.disconnect();
  process.exit(0);
});
