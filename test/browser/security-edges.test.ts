import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { launchChromium, screenshotBothWidths } from '../helpers/console-browser';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** A page on another port of the same host (127.0.0.1): same site, another origin, as in the issue. */
async function serveAttacker(html: () => string): Promise<{ server: Server; url: string }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/**
 * Issue 17's browser cases in Chromium, each from a page on another port of the same host:
 * it cannot frame the console, cannot post to the queue dashboard with the operator's cached basic
 * auth, and cannot sign the victim's console in as its own account by tossing a session cookie.
 * The dashboard's own buttons still work.
 */
describe('browser edges: framing, dashboard CSRF, cookie tossing (Chromium)', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let victim: TestReseller;
  let attacker: TestReseller;
  let attackerPage = '';
  let evil: { server: Server; url: string };

  before(async function () {
    this.timeout(120_000);
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem({ worker: false });
    victim = await makeReseller(sys, 'sec-victim');
    attacker = await makeReseller(sys, 'gaining-demo-sec');
    evil = await serveAttacker(() => attackerPage);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => evil?.server.close(r));
    await sys?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      httpCredentials: { username: 'ops', password: OPERATOR_KEY },
    });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const bulkJobs = async () => {
    const counts = await sys.rt.deps.queues.bulk.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  };

  it('a page on another port that frames the console gets nothing: the console does not render in the frame', async () => {
    attackerPage = `<!doctype html><title>prize</title><iframe id="f" src="${sys.url}/console/domains" width="800" height="600" onload="document.body.dataset.loaded = '1'"></iframe>`;
    const assets: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`${sys.url}/console/assets/`)) assets.push(r.url());
    });
    const framed = page.waitForResponse((r) => r.url() === `${sys.url}/console/domains`);
    await page.goto(evil.url);
    expect((await framed).status()).to.equal(200);
    // The frame's load event waits for the console's module script, had it been allowed to run.
    await page.locator('body[data-loaded="1"]').waitFor();
    // The browser refused to render it (frame-ancestors 'none' / X-Frame-Options: DENY): the frame
    // holds Chromium's error page, never the console's script or its sign-in form.
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    const rendered = await frame.evaluate(() => document.querySelectorAll('#root, input').length).catch(() => 0);
    expect(rendered, 'console elements inside the frame').to.equal(0);
    expect(assets, 'console files loaded by the frame').to.deep.equal([]);
    expect(await page.frameLocator('#f').getByLabel('API key').count()).to.equal(0);
    // The same console opened directly renders (the blocking is the frame's, not a broken page).
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').waitFor();
  });

  it("a cross-site form POST to bull-board with the operator's cached basic auth is refused; the bulk queue is unchanged", async () => {
    // The operator has the dashboard open: Chromium now holds the basic-auth credentials.
    await page.goto(`${sys.url}/admin/queues/`);
    await page.getByText('bulk').first().waitFor();
    const before = await bulkJobs();
    attackerPage = `<!doctype html><title>prize</title>
<form id="f" method="POST" enctype="text/plain" action="${sys.url}/admin/queues/api/queues/bulk/add">
<input name='{"name":"x","data":{"a":"' value='"}}'></form>
<script>document.getElementById('f').submit()</script>`;
    const answered = page.waitForResponse((r) => r.url().endsWith('/admin/queues/api/queues/bulk/add') && r.status() !== 401);
    await page.goto(evil.url);
    const res = await answered;
    expect(res.status()).to.equal(403);
    expect((await res.json()).error.code).to.equal('origin_mismatch');
    expect(await bulkJobs()).to.equal(before);
  });

  it("the dashboard's own buttons still work: Clean all on delayed jobs empties them", async () => {
    const queue = sys.rt.deps.queues.bulk;
    // bull-board's "Clean all" spares jobs younger than 5 s (its grace time): these were added a minute ago.
    const timestamp = Date.now() - 60_000;
    await queue.add('sec-delayed', { jobId: 'sec-none', chunk: 0 }, { delay: 3_600_000, timestamp });
    await queue.add('sec-delayed', { jobId: 'sec-none', chunk: 0 }, { delay: 3_600_000, timestamp });
    expect(await queue.getDelayedCount()).to.equal(2);
    await page.goto(`${sys.url}/admin/queues/queue/bulk?status=delayed`);
    await page.getByRole('button', { name: 'Clean all' }).click();
    const cleaned = page.waitForResponse((r) => r.request().method() !== 'GET' && r.url().includes('/admin/queues/api/queues/bulk/clean/'));
    await page.getByRole('button', { name: 'Confirm' }).click();
    const res = await cleaned;
    expect(res.status(), await res.text()).to.be.oneOf([200, 204]);
    await waitUntil('the delayed jobs are cleaned', async () => (await queue.getDelayedCount()) === 0);
  });

  it("a session cookie tossed from another port does not sign the victim's console in as the attacker", async () => {
    const signIn = await sys.http().post('/v1/sessions').send({ api_key: attacker.key }).expect(201);
    const tossed = signIn.headers['set-cookie'][0].split(';')[0];
    // Cookies ignore ports: the page on the other port sets a cookie the console's origin receives.
    attackerPage = `<!doctype html><title>prize</title><script>document.cookie = ${JSON.stringify(`${tossed}; path=/`)};</script><p id="done">set</p>`;
    await page.goto(evil.url);
    await page.locator('#done').waitFor();
    expect((await context.cookies(sys.url)).map((c) => c.name)).to.include('dp_session');

    // A victim who has not signed in: the console asks for a key.
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').or(page.getByText('Signed in as')).first().waitFor();
    expect(await page.getByText(`Signed in as ${attacker.username}`).count()).to.equal(0);
    await page.getByLabel('API key').waitFor();
    await screenshotBothWidths(page, 'security-tossed-cookie');

    // The victim signs in (the console keeps its binding); the attacker tosses again, beside the
    // real cookie on a narrower path: the console never runs as the attacker.
    await page.getByLabel('API key').fill(victim.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${victim.username}`).waitFor();
    await screenshotBothWidths(page, 'security-signed-in');
    attackerPage = `<!doctype html><title>prize</title><script>document.cookie = ${JSON.stringify(`${tossed}; path=/v1`)};</script><p id="done">set</p>`;
    await page.goto(evil.url);
    await page.locator('#done').waitFor();
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').or(page.getByText('Signed in as')).first().waitFor();
    expect(await page.getByText(`Signed in as ${attacker.username}`).count()).to.equal(0);
  });
});
