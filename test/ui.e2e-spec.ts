import { Browser, BrowserContext, Page, Request } from 'playwright-core';
import request from 'supertest';
import { ApiKeysService } from '../src/access/api-keys.service';
import { readS3 } from './support/artifacts';
import { closeDatabase, query } from './support/database';
import { freePort, spawnService } from './support/service-process';
import { TestApp, startTestApp, uniqueIdentifier } from './support/test-app';
import { launchChromium } from './support/chromium';
import { waitFor } from './support/wait-for';

const SETTLE_TIMEOUT_MS = 30_000;

interface PageRecorder {
  /** Every value #detail-state showed, in order, as seen by a MutationObserver installed before the page's own script. */
  states: string[];
  /** The EventSource instances the page opened, with their readyState now. */
  eventSources: { url: string; readyState: number }[];
}

/** A page element, as far as the functions run in the browser read it (the test's TypeScript has no DOM types). */
interface PageElement {
  textContent: string | null;
  href: string;
  getAttribute(name: string): string | null;
}

/** The browser globals the functions run in the page use. */
interface PageGlobals {
  __ui: { states: string[]; sources: { url: string; readyState: number }[] };
  EventSource: new (...args: unknown[]) => { url: string; readyState: number };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  document: {
    getElementById(id: string): PageElement | null;
    querySelectorAll(selectors: string): { length: number };
  };
}

/**
 * Installed before any page script: watches #detail-state and keeps every EventSource the page
 * creates. Runs in the browser.
 */
function recordPage(): void {
  const g = globalThis as unknown as PageGlobals;
  const ui: PageGlobals['__ui'] = { states: [], sources: [] };
  g.__ui = ui;
  const NativeEventSource = g.EventSource;
  g.EventSource = class extends NativeEventSource {
    constructor(...args: unknown[]) {
      super(...args);
      ui.sources.push(this);
    }
  };
  new g.MutationObserver(() => {
    const text: string = g.document.getElementById('detail-state')?.textContent ?? '';
    if (text && ui.states[ui.states.length - 1] !== text) {
      ui.states.push(text);
    }
  }).observe(g.document, { subtree: true, childList: true, characterData: true });
}

describe('the browser page at /ui, with access control on', () => {
  let service: TestApp;
  let apiKey: string;
  const authorization = () => `Bearer ${apiKey}`;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];
  let requests: Request[];

  beforeAll(async () => {
    service = await startTestApp({ SIMULATED_OPERATION_DELAY_MS: '200', AUTH_REQUIRED: 'true' });
    apiKey = (await service.app.get(ApiKeysService).create({ name: 'ui operator', team: 'ui', scopes: ['read', 'write'] })).secret;
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: service.baseUrl, viewport: { width: 1360, height: 1000 } });
    await context.addInitScript(recordPage);
  });

  beforeEach(async () => {
    page = await context.newPage();
    pageErrors = [];
    requests = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        pageErrors.push(message.text());
      }
    });
    page.on('request', (sent) => requests.push(sent));
  });

  afterEach(async () => {
    await page?.close();
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await service?.close();
    await closeDatabase();
  });

  const recorded = (): Promise<PageRecorder> =>
    page.evaluate(() => {
      const ui = (globalThis as unknown as PageGlobals).__ui;
      return { states: [...ui.states], eventSources: ui.sources.map((source) => ({ url: source.url, readyState: source.readyState })) };
    });

  /** Opens /ui and, unless told otherwise, gives it the API key as an operator would: pasted into the key field. */
  async function openPage({ withKey = true } = {}): Promise<void> {
    const response = await page.goto('/ui');
    expect(response?.status()).toBe(200);
    await page.locator('#submit-form').waitFor();
    if (withKey) {
      await page.fill('#api-key', apiKey);
      await page.click('#key-button');
      await page.locator('#forget-key-button:visible').waitFor();
    }
  }

  it('serves the page and its assets with their types, validators and cache headers, and links it from /', async () => {
    const html = await request(service.baseUrl).get('/ui').expect(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['cache-control']).toBe('no-cache');
    expect(html.headers['content-security-policy']).toContain("script-src 'self'");
    expect(html.text).toContain('id="submit-form"');
    await request(service.baseUrl).get('/ui').set('if-none-match', html.headers.etag!).expect(304);

    const script = /src="(\/ui\/app\.js\?v=[\w-]+)"/.exec(html.text)?.[1];
    const styles = /href="(\/ui\/app\.css\?v=[\w-]+)"/.exec(html.text)?.[1];
    expect(script).toBeDefined();
    expect(styles).toBeDefined();
    const js = await request(service.baseUrl).get(script!).expect(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const css = await request(service.baseUrl).get(styles!).expect(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const unversioned = await request(service.baseUrl).get('/ui/app.js').expect(200);
    expect(unversioned.headers['cache-control']).not.toContain('immutable');

    const missing = await request(service.baseUrl).get('/ui/secret.txt').expect(404);
    expect(missing.body).toMatchObject({ statusCode: 404, code: 'route_not_found' });
    expect(((await request(service.baseUrl).get('/').expect(200)).body as { ui: string }).ui).toBe('/ui');
    const openapi = await request(service.baseUrl).get('/docs/json').expect(200);
    expect(Object.keys((openapi.body as { paths: Record<string, unknown> }).paths).filter((path) => path.startsWith('/ui'))).toEqual([]);
  });

  it('is served the same by the built service, whose build copies the assets', async () => {
    const port = await freePort();
    const built = spawnService({ ...service.env, APP_ROLE: 'api', HOST: '127.0.0.1', PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      const html = await waitFor(
        async () => {
          if (built.child.exitCode !== null) {
            throw new Error(`the built service exited: ${built.output()}`);
          }
          const response = await fetch(`${base}/ui`);
          return response.ok ? response.text() : false;
        },
        { timeoutMs: 30_000, what: 'the built service to serve /ui' },
      );
      expect(html).toBe((await request(service.baseUrl).get('/ui').expect(200)).text);
      for (const asset of ['app.js', 'app.css']) {
        const response = await fetch(`${base}/ui/${asset}`);
        expect(response.status).toBe(200);
        expect(await response.text()).toBe((await request(service.baseUrl).get(`/ui/${asset}`).expect(200)).text);
      }
    } finally {
      await built.stop();
    }
  });

  it('submits an object and follows it to completed through EventSource, with links to its artifacts', async () => {
    await openPage();
    const identifier = uniqueIdentifier('ui-page');
    await page.fill('#identifier', identifier);
    for (const operation of ['validate', 'transform', 'enrich', 'analyze', 'export']) {
      await page.check(`#submit-form input[name="operations"][value="${operation}"]`);
    }
    await page.fill(
      '#payload',
      JSON.stringify([
        { city: 'Oslo', t: 4 },
        { city: 'Rome', t: 18.5 },
        { city: 'Lima', t: 19 },
      ]),
    );
    await page.selectOption('#export-format', 'csv');

    const [submission] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith('/api/v1/process') && response.request().method() === 'POST'),
      page.click('#submit-button'),
    ]);
    expect(submission.status()).toBe(202);
    const { id } = (await submission.json()) as { id: string };

    await page.locator('#detail-state[data-state="completed"]').waitFor({ timeout: SETTLE_TIMEOUT_MS });
    expect(await page.getAttribute('#detail', 'data-object-id')).toBe(id);
    expect(await page.textContent('#detail-identifier')).toBe(identifier);
    expect(await page.textContent('#detail-progress-text')).toBe('5/5');
    expect(await page.getAttribute('#detail-live', 'data-live')).toBe('settled');

    // Every state came through the browser's EventSource: several events, 'processing' shown on the way, and no polling.
    const eventCount = Number(await page.getAttribute('#detail', 'data-event-count'));
    expect(eventCount).toBeGreaterThanOrEqual(5);
    const { states, eventSources } = await recorded();
    expect(states).toContain('processing');
    expect(states[states.length - 1]).toBe('completed');
    expect(states.indexOf('processing')).toBeLessThan(states.indexOf('completed'));
    expect((await page.getAttribute('#detail', 'data-states'))?.split(' ')).toEqual(states);
    // EventSource cannot send the key: the stream opened with a stream token of this object, and the key never went into a URL.
    const streamRequests = requests.filter((sent) => sent.url().startsWith(`${service.baseUrl}/api/v1/progress/${id}/stream?`));
    expect(streamRequests.map((sent) => sent.resourceType())).toEqual(['eventsource']);
    const streamUrl = streamRequests[0]!.url();
    expect(streamUrl).toMatch(/\?access_token=opst_[\w-]+$/);
    expect(requests.filter((sent) => sent.url().includes(apiKey))).toEqual([]);
    const apiRequests = requests.filter((sent) => sent.url().includes('/api/v1/'));
    expect(
      apiRequests
        .filter((sent) => !sent.url().includes('access_token=') && sent.headers().authorization !== authorization())
        .map((sent) => sent.url()),
    ).toEqual([]);
    expect(requests.filter((sent) => sent.url() === `${service.baseUrl}/api/v1/progress/${id}`)).toEqual([]);
    // The page closed its EventSource itself once the object settled, so the browser does not reconnect.
    expect(eventSources).toEqual([{ url: streamUrl, readyState: 2 }]);

    const operationRows = await page.$$eval('#detail-operations-body tr', (rows: PageElement[]) =>
      rows.map((row) => [row.getAttribute('data-operation'), row.getAttribute('data-status')]),
    );
    expect(operationRows).toEqual(['validate', 'transform', 'enrich', 'analyze', 'export'].map((operation) => [operation, 'completed']));

    await page.locator(`#objects-body tr[data-id="${id}"] .badge[data-state="completed"]`).waitFor({ timeout: 10_000 });
    expect(await page.textContent(`#objects-body tr[data-id="${id}"] [data-testid="row-progress"]`)).toBe('5/5');

    // Links to every artifact the API lists; one of them downloads the exact bytes stored in S3.
    const { artifacts } = (
      await request(service.baseUrl).get(`/api/v1/objects/${id}/artifacts`).set('authorization', authorization()).expect(200)
    ).body as {
      artifacts: { operation: string; key: string; s3_url: string }[];
    };
    const links = page.locator('#detail-artifacts a[data-testid="artifact-link"]');
    await page.waitForFunction(
      (count) =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('#detail-artifacts a[data-testid="artifact-link"]').length ===
        count,
      artifacts.length,
    );
    const shown = await links.evaluateAll((anchors: PageElement[]) =>
      anchors.map((anchor) => ({ key: anchor.getAttribute('data-key') as string, href: anchor.href })),
    );
    expect(shown.map((link) => link.key).sort()).toEqual(artifacts.map((artifact) => artifact.key).sort());
    expect(artifacts.map((artifact) => artifact.operation)).toEqual(expect.arrayContaining(['validate', 'export']));
    const exported = artifacts.find((artifact) => artifact.operation === 'export' && artifact.key.endsWith('.csv'))!;
    expect(exported).toBeDefined();
    const download = await fetch(shown.find((link) => link.key === exported.key)!.href);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.equals(await readS3(exported.s3_url))).toBe(true);
    expect(bytes.toString('utf8')).toContain('Rome');

    if (process.env.UI_SCREENSHOT) {
      await page.screenshot({ path: process.env.UI_SCREENSHOT, fullPage: true });
    }
    expect(pageErrors).toEqual([]);
  });

  it("shows the server's message for an invalid identifier and creates nothing", async () => {
    await openPage();
    const identifier = `not valid ${uniqueIdentifier('id')}!`;
    const expected = await request(service.baseUrl)
      .post('/api/v1/process')
      .set('authorization', authorization())
      .send({ identifier, operations: ['validate', 'transform', 'analyze'] })
      .expect(400);
    expect((expected.body as { message: string }).message).toEqual(expect.any(String));

    await page.fill('#identifier', identifier);
    const [rejected] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith('/api/v1/process') && response.request().method() === 'POST'),
      page.click('#submit-button'),
    ]);
    expect(rejected.status()).toBe(400);
    const message = page.locator('#form-message[data-kind="error"]');
    await message.waitFor();
    expect(await message.textContent()).toBe((expected.body as { message: string }).message);
    expect(await page.isHidden('#detail')).toBe(true);
    expect(await query('select id from processing_objects where identifier = $1', [identifier])).toEqual([]);

    // Payload that is not JSON is caught in the page, before any request.
    const before = requests.length;
    await page.fill('#identifier', uniqueIdentifier('ui-bad-payload'));
    await page.fill('#payload', '{not json');
    await page.click('#submit-button');
    await page.locator('#form-message[data-kind="error"]', { hasText: 'Payload is not valid JSON' }).waitFor();
    expect(requests.slice(before).filter((sent) => sent.url().endsWith('/api/v1/process'))).toEqual([]);
    expect(pageErrors.filter((text) => !text.includes('400'))).toEqual([]);
  });

  it('asks for an API key when it has none, and submits nothing without one', async () => {
    await openPage({ withKey: false });
    await page.locator('#key-status[data-kind="error"]').waitFor();
    expect(await page.textContent('#key-status')).toContain('wants an API key');
    const identifier = uniqueIdentifier('ui-nokey');
    await page.fill('#identifier', identifier);
    const [refused] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith('/api/v1/process') && response.request().method() === 'POST'),
      page.click('#submit-button'),
    ]);
    expect(refused.status()).toBe(401);
    await page.locator('#form-message.error').waitFor();
    expect(await query('select id from processing_objects where identifier = $1', [identifier])).toEqual([]);
    // A refused resource is a console error of the browser's own; anything else would be the page's.
    expect(pageErrors.filter((error) => !error.includes('401'))).toEqual([]);
  });

  it('cancels an object from its detail panel', async () => {
    await openPage();
    const identifier = uniqueIdentifier('ui-cancel');
    await page.fill('#identifier', identifier);
    for (const operation of ['validate', 'transform', 'enrich', 'analyze', 'export', 'thumbnail']) {
      await page.check(`#submit-form input[name="operations"][value="${operation}"]`);
    }
    await page.click('#submit-button');
    await page.locator('#cancel-button:enabled').waitFor();
    await page.click('#cancel-button');
    await page.locator('#detail-state[data-state="cancelled"]').waitFor({ timeout: SETTLE_TIMEOUT_MS });
    // The stream may show the cancelled state before the POST's answer sets the message: wait for the message too.
    await page.locator('#action-message', { hasText: 'Cancellation requested.' }).waitFor({ timeout: SETTLE_TIMEOUT_MS });
    expect(await page.isDisabled('#cancel-button')).toBe(true);
    expect(await page.isDisabled('#retry-button')).toBe(true);
    expect((await recorded()).eventSources.every((source) => source.readyState === 2)).toBe(true);
    expect((await query<{ state: string }>('select state from processing_objects where identifier = $1', [identifier]))[0]?.state).toBe(
      'cancelled',
    );
  });
});
