import type { Browser } from 'playwright-core';
import request from 'supertest';
import { launchChromium } from './support/chromium';
import { closeDatabase } from './support/database';
import { sendRaw } from './support/raw-http';
import { TestApp, startTestApp } from './support/test-app';

const QUEUE_DASHBOARD = '/admin/queues';
const DASHBOARD_AUTH = { username: 'ops', password: 'dashboard-secret' };

/** The browser globals the page scripts below use (this project compiles without the DOM lib). */
interface PageGlobals {
  document: {
    querySelector(selector: string): unknown;
    addEventListener(type: 'securitypolicyviolation', listener: (event: { violatedDirective: string; blockedURI: string }) => void): void;
  };
  __violations: string[];
}

/** The headers every response carries, whatever answered it. */
function expectSecurityHeaders(headers: Record<string, string | string[] | undefined>, where: string): void {
  expect({ where, nosniff: headers['x-content-type-options'] }).toEqual({ where, nosniff: 'nosniff' });
  expect({ where, frame: headers['x-frame-options'] }).toEqual({ where, frame: 'DENY' });
  expect({ where, csp: headers['content-security-policy'] }).toEqual({
    where,
    csp: expect.stringContaining("frame-ancestors 'none'") as unknown,
  });
  expect({ where, referrer: headers['referrer-policy'] }).toEqual({ where, referrer: 'no-referrer' });
  expect({ where, powered: headers['x-powered-by'] }).toEqual({ where, powered: undefined });
}

describe('security headers', () => {
  let service: TestApp;
  let hsts: TestApp;

  beforeAll(async () => {
    service = await startTestApp({
      BULL_BOARD_PATH: QUEUE_DASHBOARD,
      BULL_BOARD_USERNAME: DASHBOARD_AUTH.username,
      BULL_BOARD_PASSWORD: DASHBOARD_AUTH.password,
    });
    hsts = await startTestApp({ APP_ROLE: 'api', HSTS_MAX_AGE_SECONDS: '31536000' });
  });

  afterAll(async () => {
    await hsts?.close();
    await service?.close();
    await closeDatabase();
  });

  it('are on every kind of response: API, errors, 404s, probes, metrics, docs, the page, the queue dashboard', async () => {
    const api = () => request(service.baseUrl);
    const dashboardAuth = `Basic ${Buffer.from(`${DASHBOARD_AUTH.username}:${DASHBOARD_AUTH.password}`).toString('base64')}`;
    const responses: [string, request.Response][] = [
      ['status', await api().get('/api/v1/status').expect(200)],
      [
        'submission',
        await api()
          .post('/api/v1/process')
          .send({ identifier: `headers-${Date.now()}`, operations: ['validate'] })
          .expect(202),
      ],
      [
        'validation error',
        await api()
          .post('/api/v1/process')
          .send({ identifier: '../x', operations: ['validate'] })
          .expect(400),
      ],
      ['unknown object', await api().get('/api/v1/progress/550e8400-e29b-41d4-a716-446655440000').expect(404)],
      ['unknown route', await api().get('/no/such/route').expect(404)],
      ['bad percent-encoding (a framework error)', await api().get('/api/v1/objects/%E0%A4%A').expect(400)],
      ['liveness', await api().get('/health/live').expect(200)],
      ['readiness', await api().get('/health').expect(200)],
      ['metrics', await api().get('/metrics').expect(200)],
      ['Swagger UI', await api().get('/docs').expect(200)],
      ['OpenAPI document', await api().get('/docs/json').expect(200)],
      ['the page', await api().get('/ui').expect(200)],
      ['the page script', await api().get('/ui/app.js').expect(200)],
      ['queue dashboard without credentials', await api().get(QUEUE_DASHBOARD).expect(401)],
      ['queue dashboard', await api().get(QUEUE_DASHBOARD).set('authorization', dashboardAuth).expect(200)],
    ];
    for (const [where, response] of responses) {
      expectSecurityHeaders(response.headers, where);
      // Plain HTTP by default: no HSTS, which would lock browsers out of a host without TLS.
      expect({ where, hsts: response.headers['strict-transport-security'] }).toEqual({ where, hsts: undefined });
    }
  });

  it('are on the answers written before there is a request: malformed HTTP', async () => {
    const answer = await sendRaw(service.baseUrl, 'BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(answer.statusCode).toBe(400);
    expectSecurityHeaders(answer.headers, 'malformed request');
    expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 400, code: 'malformed_request' });
  });

  it('HSTS only when HSTS_MAX_AGE_SECONDS is set', async () => {
    const response = await request(hsts.baseUrl).get('/health/live').expect(200);
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('/ui keeps its strict policy; /docs and the dashboard only loosen styles (and fonts, for the dashboard)', async () => {
    const page = (await request(service.baseUrl).get('/ui').expect(200)).headers['content-security-policy'];
    const docs = (await request(service.baseUrl).get('/docs').expect(200)).headers['content-security-policy'];
    expect(page).toContain("default-src 'self'");
    expect(page).toContain("script-src 'self';");
    expect(page).toContain("style-src 'self';");
    expect(page).not.toContain('unsafe');
    expect(docs).toContain("script-src 'self';");
    expect(docs).toContain("style-src 'self' 'unsafe-inline'");
    expect(docs).not.toContain('unsafe-eval');
  });

  describe('in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    /** Opens `path` and collects console errors, page errors and CSP violations until `rendered` resolves. */
    async function loadWithoutViolations(
      path: string,
      rendered: (page: import('playwright-core').Page) => Promise<void>,
    ): Promise<string[]> {
      const context = await browser.newContext({ baseURL: service.baseUrl });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') {
          problems.push(`console: ${message.text()}`);
        }
      });
      await page.addInitScript(() => {
        const g = globalThis as unknown as PageGlobals;
        const violations: string[] = [];
        g.__violations = violations;
        g.document.addEventListener('securitypolicyviolation', (event) =>
          violations.push(`${event.violatedDirective} ${event.blockedURI}`),
        );
      });
      try {
        const response = await page.goto(path);
        expect(response?.status()).toBe(200);
        await rendered(page);
        const violations = await page.evaluate(() => (globalThis as unknown as PageGlobals).__violations);
        return [...problems, ...violations.map((violation) => `CSP violation: ${violation}`)];
      } finally {
        await context.close();
      }
    }

    it('/ui renders and runs under its policy with no violation or console error', async () => {
      const problems = await loadWithoutViolations('/ui', async (page) => {
        // Its script runs, submits (a same-origin POST, which the cross-site guard lets through) and follows the object over EventSource.
        await page.fill('#identifier', `ui-csp-${Date.now()}`);
        const [submission] = await Promise.all([
          page.waitForResponse((response) => response.url().endsWith('/api/v1/process') && response.request().method() === 'POST'),
          page.click('#submit-button'),
        ]);
        expect(submission.status()).toBe(202);
        await page.locator('#detail-state[data-state="completed"]').waitFor({ timeout: 30_000 });
      });
      expect(problems).toEqual([]);
    });

    it('Swagger UI at /docs renders and lists the operations under its policy, with no violation or console error', async () => {
      const problems = await loadWithoutViolations('/docs', async (page) => {
        await page.locator('.opblock-summary-path', { hasText: '/api/v1/process' }).first().waitFor();
        expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(10);
      });
      expect(problems).toEqual([]);
    });

    it('/docs cannot be framed by another site', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        // setContent waits for the page's load event, which waits for the frame to load or be refused.
        await page.setContent(`<iframe id="framed" src="${service.baseUrl}/docs"></iframe>`);
        const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
        const rendered = frame
          ? await frame
              .evaluate(() => (globalThis as unknown as PageGlobals).document.querySelector('#swagger-ui') !== null)
              .catch(() => false)
          : false;
        expect(rendered).toBe(false);
      } finally {
        await context.close();
      }
    });
  });
});
