import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshotPath } from '../helpers/browser';
import { startSystem, type TestSystem } from '../helpers/system';

/** /docs renders the OpenAPI document from files served here (no CDN); / links to everything. */
describe('the API docs at /docs and the index at /, in Chromium', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];

  before(async () => {
    sys = await startSystem({ worker: false });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('request', (r) => requested.push(r.url()));
  });
  after(async () => {
    await browser?.close();
    await sys?.stop();
  });

  it('renders every operation of the document, loading nothing from anywhere but this server', async () => {
    const doc = (await sys.http().get('/v1/openapi.json').expect(200)).body;
    const operations = Object.values(doc.paths).flatMap((p) => Object.keys(p as object)).length;
    await page.goto(`${sys.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    // Swagger UI collapses tags beyond the first few; expanding is not needed to count them.
    const shown = await page.locator('.opblock').count();
    expect(shown).to.equal(operations);
    expect(await page.locator('.info .title').textContent()).to.include('domain-push');
    await page.screenshot({ path: screenshotPath('docs'), fullPage: false });
    await page.locator('.opblock-summary-path[data-path="/v1/bulk-pushes"]').first().click();
    await page.locator('.opblock.is-open').first().waitFor();
    await page.screenshot({ path: screenshotPath('docs-submit'), fullPage: false });
    const foreign = requested.filter((u) => !u.startsWith(sys.url) && !u.startsWith('data:'));
    expect(foreign, 'requests to other hosts').to.deep.equal([]);
    expect(requested.some((u) => u.endsWith('/docs/assets/swagger-ui-bundle.js'))).to.equal(true);
  });

  it('/ answers a browser with links to the docs, dashboard, mailbox and health, and a client with JSON', async () => {
    await page.goto(sys.url);
    const links = await page.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(links).to.include.members(['/docs', '/v1/openapi.json', '/admin/queues', '/admin/emails', '/healthz', '/readyz']);
    await page.screenshot({ path: screenshotPath('index') });
    const json = await sys.http().get('/').expect(200);
    expect(json.body.links).to.include({
      console: '/console/',
      docs: '/docs',
      dashboard: '/admin/queues',
      mailbox: '/admin/emails',
      health: '/healthz',
    });
    const missing = await sys.http().get('/docs/assets/nothing-here.js');
    expect(missing.status).to.equal(404);
  });
});
