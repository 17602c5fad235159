'use strict';
/*
 * Baseline of the "live" scenario: the floor under GET /api/v1/progress/{id}/stream. A bare node:http
 * server holding one Redis SUBSCRIBE (ioredis) on RELAY_CHANNEL. Each message is
 * "<object id> <seq> <last 0|1> <published at> <progress JSON>"; the relay builds the SSE frame once and
 * writes it to every client following that object, ends their streams after the object's last event,
 * and keeps each object's latest frame, which a client gets first on connecting (its snapshot, as the
 * service sends one). Same response headers as the service, Nagle off, one heartbeat timer for all clients.
 * Reads PORT, REDIS_URL, RELAY_CHANNEL; prints "listening" when ready.
 */
const http = require('node:http');
const { Redis } = require('ioredis');

const followers = new Map(); // object id → Set of responses
const latest = new Map(); // object id → { frame, last }
const HEADERS = {
  'Content-Type': 'text/event-stream',
  Connection: 'keep-alive',
  'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
  Pragma: 'no-cache',
  Expire: '0',
  'X-Accel-Buffering': 'no',
};
const ROUTE = /^\/api\/v1\/progress\/([0-9a-f-]{36})\/stream$/i;

const server = http.createServer((request, response) => {
  const match = ROUTE.exec(request.url);
  if (request.method !== 'GET' || !match) {
    response.writeHead(404).end();
    return;
  }
  const id = match[1];
  request.socket.setNoDelay(true);
  response.writeHead(200, HEADERS);
  const current = latest.get(id);
  if (current) {
    response.write(current.frame);
    if (current.last) {
      response.end();
      return;
    }
  }
  let set = followers.get(id);
  if (!set) {
    followers.set(id, (set = new Set()));
  }
  set.add(response);
  response.on('close', () => {
    set.delete(response);
    if (set.size === 0 && followers.get(id) === set) {
      followers.delete(id);
    }
  });
});
server.keepAliveTimeout = 0;
server.requestTimeout = 0;

const subscriber = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
subscriber.on('message', (_channel, message) => {
  const a = message.indexOf(' ');
  const b = message.indexOf(' ', a + 1);
  const c = message.indexOf(' ', b + 1);
  const d = message.indexOf(' ', c + 1);
  const id = message.slice(0, a);
  const last = message.slice(b + 1, c) === '1';
  const frame = `event: progress\nid: ${message.slice(a + 1, b)}\ndata: ${message.slice(d + 1)}\n\n`;
  latest.set(id, { frame, last });
  const set = followers.get(id);
  if (!set) {
    return;
  }
  for (const response of set) {
    response.write(frame);
    if (last) {
      response.end();
    }
  }
  if (last) {
    followers.delete(id);
  }
});

setInterval(() => {
  for (const set of followers.values()) {
    for (const response of set) {
      response.write(': heartbeat\n\n');
    }
  }
}, 15_000).unref();

async function main() {
  await subscriber.subscribe(process.env.RELAY_CHANNEL);
  await new Promise((resolve) => server.listen(Number(process.env.PORT), '127.0.0.1', resolve));
  console.log('listening');
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close();
    subscriber.disconnect();
    process.exit(0);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
