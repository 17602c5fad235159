import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { launchChromium } from './support/chromium';
import { closeDatabase, query } from './support/database';
import { expectErrorShape } from './support/error-shape';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import type { components } from './support/api-types';

const ALLOWED = 'https://app.example.com';
const EVIL = 'https://evil.example';

/** The browser globals the page script below uses (this project compiles without the DOM lib). */
interface PageGlobals {
  document: { getElementById(id: string): { submit(): void } | null };
}

async function rowsWithIdentifier(identifier: string): Promise<unknown[]> {
  return query('select id from processing_objects where identifier = $1', [identifier]);
}

describe('cross-origin requests', () => {
  let service: TestApp;
  let closed: TestApp;

  beforeAll(async () => {
    // APP_ROLE api: submitted objects stay queued, so they can be cancelled.
    service = await startTestApp({ APP_ROLE: 'api', CORS_ALLOWED_ORIGINS: `${ALLOWED}, http://localhost:3000` });
    closed = await startTestApp({ APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await closed?.close();
    await service?.close();
    await closeDatabase();
  });

  const submit = async (app: TestApp) =>
    (
      await request(app.baseUrl)
        .post('/api/v1/process')
        .send({ identifier: uniqueIdentifier('cors'), operations: ['validate'] })
        .expect(202)
    ).body as { id: string; identifier: string };

  describe('CORS', () => {
    it('answers a preflight from an allowed origin with that origin, the methods and the headers clients send', async () => {
      const preflight = await request(service.baseUrl)
        .options('/api/v1/process')
        .set('origin', ALLOWED)
        .set('access-control-request-method', 'POST')
        .set('access-control-request-headers', 'authorization, idempotency-key, content-type')
        .expect(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(preflight.headers['access-control-allow-methods']).toBe('GET, POST, DELETE');
      expect(preflight.headers['access-control-allow-headers']?.split(', ')).toEqual(
        expect.arrayContaining(['Authorization', 'Idempotency-Key', 'Last-Event-ID', 'Content-Type']),
      );
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
      expect(preflight.headers.vary).toContain('Origin');
      expect(preflight.headers['x-content-type-options']).toBe('nosniff');
    });

    it('lets an allowed origin read answers and the headers it needs', async () => {
      const response = await request(service.baseUrl).get('/api/v1/status').set('origin', ALLOWED).expect(200);
      expect(response.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(response.headers['access-control-expose-headers']?.split(', ')).toEqual(
        expect.arrayContaining(['Retry-After', 'X-Request-Id', 'RateLimit-Limit']),
      );
      const { id } = await submit(service);
      const cancelled = await request(service.baseUrl)
        .post(`/api/v1/objects/${id}/cancel`)
        .set('origin', ALLOWED)
        .set('sec-fetch-site', 'cross-site')
        .expect(200);
      expect(cancelled.headers['access-control-allow-origin']).toBe(ALLOWED);
    });

    it('gives a refused origin no Access-Control-Allow-Origin: its preflight is an ordinary 204 the browser then refuses', async () => {
      const preflight = await request(service.baseUrl)
        .options(`/api/v1/objects/550e8400-e29b-41d4-a716-446655440000/cancel`)
        .set('origin', EVIL)
        .set('access-control-request-method', 'POST')
        .expect(204);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.text).toBe('');
      const response = await request(service.baseUrl).get('/api/v1/status').set('origin', EVIL).expect(200);
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      expect(response.headers['access-control-expose-headers']).toBeUndefined();
    });

    it('sends no CORS headers at all when no origin is configured (the default)', async () => {
      const preflight = await request(closed.baseUrl)
        .options('/api/v1/process')
        .set('origin', ALLOWED)
        .set('access-control-request-method', 'POST')
        .expect(204);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const response = await request(closed.baseUrl).get('/api/v1/status').set('origin', ALLOWED).expect(200);
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    });

    it('answers an OPTIONS without Origin (not a preflight) 204 too, not an error in another shape', async () => {
      await request(closed.baseUrl).options('/api/v1/status').expect(204);
    });
  });

  describe('state changes from another site are refused with 403 cross_site_request', () => {
    it('a JSON submission with a foreign Origin, or marked cross-site by the browser; nothing is created', async () => {
      for (const headers of [
        { origin: EVIL },
        { 'sec-fetch-site': 'cross-site' },
        { origin: 'null' },
        { origin: `http://localhost:3001` },
      ]) {
        const identifier = uniqueIdentifier('cross-site-json');
        const response = await request(service.baseUrl)
          .post('/api/v1/process')
          .set(headers)
          .send({ identifier, operations: ['validate'] })
          .expect(403);
        expectErrorShape(response.body as Record<string, unknown>, 403, 'cross_site_request');
        expect(response.headers['access-control-allow-origin']).toBeUndefined();
        expect(await rowsWithIdentifier(identifier)).toEqual([]);
      }
    });

    it('a multipart form posted from another origin; nothing is created', async () => {
      const identifier = uniqueIdentifier('cross-site-form');
      const response = await request(service.baseUrl)
        .post('/api/v1/process')
        .set('origin', EVIL)
        .field('identifier', identifier)
        .field('operations', 'validate')
        .attach('file', Buffer.from('a,b\n1,2\n'), { filename: 'a.csv', contentType: 'text/csv' })
        .expect(403);
      expectErrorShape(response.body as Record<string, unknown>, 403, 'cross_site_request');
      expect(await rowsWithIdentifier(identifier)).toEqual([]);
    });

    it('POST …/cancel, …/retry and DELETE with Origin: https://evil.example; the object is untouched', async () => {
      const { id } = await submit(service);
      for (const [method, path] of [
        ['post', `/api/v1/objects/${id}/cancel`],
        ['post', `/api/v1/objects/${id}/retry`],
        ['delete', `/api/v1/objects/${id}`],
      ] as const) {
        const response = await request(service.baseUrl)[method](path).set('origin', EVIL).expect(403);
        expectErrorShape(response.body as Record<string, unknown>, 403, 'cross_site_request');
      }
      expect(
        ((await request(service.baseUrl).get(`/api/v1/progress/${id}`).expect(200)).body as components['schemas']['ProgressResponse'])
          .state,
      ).toBe('queued');
    });

    it('lets through clients that are not browsers (no Origin, no Sec-Fetch-Site), same-origin pages and reads from anywhere', async () => {
      const { id } = await submit(service);
      const host = new URL(service.baseUrl).host;
      await request(service.baseUrl).get(`/api/v1/progress/${id}`).set('origin', EVIL).set('sec-fetch-site', 'cross-site').expect(200);
      await request(service.baseUrl)
        .post(`/api/v1/objects/${id}/cancel`)
        .set('origin', `http://${host}`)
        .set('sec-fetch-site', 'same-origin')
        .expect(200);
      await request(service.baseUrl).delete(`/api/v1/objects/${id}`).expect(204);
    });
  });

  describe('in Chromium', () => {
    let browser: Browser;
    let evilSite: Server;
    let evilUrl: string;

    beforeAll(async () => {
      browser = await launchChromium();
      // Another site (localhost is not 127.0.0.1's site) serving a page with a form aimed at the service.
      evilSite = createServer((incoming, outgoing) => {
        const identifier = new URL(incoming.url ?? '/', 'http://localhost').searchParams.get('identifier') ?? '';
        outgoing.writeHead(200, { 'content-type': 'text/html' });
        outgoing.end(`<!doctype html><form id="attack" method="post" enctype="multipart/form-data" action="${service.baseUrl}/api/v1/process">
          <input name="identifier" value="${identifier}"><input name="operations" value="validate">
          <input type="file" name="file"></form>`);
      });
      await new Promise<void>((resolve) => evilSite.listen(0, '127.0.0.1', resolve));
      evilUrl = `http://localhost:${(evilSite.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await browser?.close();
      evilSite?.closeAllConnections();
      await new Promise((resolve) => evilSite?.close(resolve));
    });

    it('a multipart form on another site posting to the service is refused, and creates nothing', async () => {
      const identifier = uniqueIdentifier('browser-form');
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${evilUrl}/?identifier=${identifier}`);
        await page.setInputFiles('#attack input[type=file]', { name: 'a.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') });
        const [answer] = await Promise.all([
          page.waitForResponse((response) => response.url() === `${service.baseUrl}/api/v1/process`),
          page.evaluate(() => (globalThis as unknown as PageGlobals).document.getElementById('attack')!.submit()),
        ]);
        expect(answer.status()).toBe(403);
        expect(await answer.json()).toMatchObject({ statusCode: 403, code: 'cross_site_request' });
        // Sent as a real browser sends it: cross-site, with the other site's origin.
        const sent = await answer.request().allHeaders();
        expect(sent['sec-fetch-site']).toBe('cross-site');
        expect(sent.origin).toBe(evilUrl);
      } finally {
        await context.close();
      }
      expect(await rowsWithIdentifier(identifier)).toEqual([]);
    });
  });
});
