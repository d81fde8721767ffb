import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { screenshotBothWidths, signIn as signInAs, startConsoleSuite, stopConsoleSuite } from '../helpers/console-browser';
import { submit, type TestReseller } from '../helpers/fixtures';
import { jobStreamsOf } from '../helpers/streams';
import type { TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * Issue 17 findings 8 and 13, in real Chromium: the job page of a suspended job opens no event
 * stream (the server would end it at once, and a reconnect every 3 s took one of the key's stream
 * slots each time) and streams again when the job is resumed; a stream the server ends because the
 * session ended is not reopened: the page goes to the sign-in form.
 */
describe('console event streams (browser)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let losing: TestReseller;
  let gaining: TestReseller;
  /** When the page asked for each job's event stream. */
  let streamRequests: { at: number; url: string }[];

  before(async function () {
    this.timeout(240_000);
    // No worker until a test wants the job to move: a queued job keeps its stream open.
    ({ sys, browser, losing, gaining } = await startConsoleSuite('sb', {
      worker: false,
      config: { SSE_AUTH_RECHECK_MS: 300, SSE_POLL_MS: 200 },
    }));
  });
  after(() => stopConsoleSuite({ sys, browser }));
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    streamRequests = [];
    page.on('request', (r) => {
      if (/\/v1\/jobs\/[^/]+\/events/.test(r.url())) streamRequests.push({ at: Date.now(), url: r.url() });
    });
  });
  afterEach(async () => {
    await context?.close();
  });

  const signIn = (who: TestReseller, to: string) => signInAs(page, sys, who, to);

  async function newJob(domain: string): Promise<string> {
    const res = await submit(sys, losing, { gaining_reseller: gaining.username, domains: [domain] });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body.id;
  }

  const hub = () => jobStreamsOf(sys);
  const statusWord = () => page.locator('.status-word');

  it('a suspended job opens no stream while the page is open, and streams again once Resume is pressed', async () => {
    const id = await newJob('sb-suspended.example');
    const suspended = await sys.http().post(`/v1/jobs/${id}/suspend`).set('Authorization', `Bearer ${losing.key}`);
    expect(suspended.status).to.equal(202);
    await signIn(losing, `/console/queue/${id}`);
    await statusWord().filter({ hasText: 'suspended' }).waitFor();
    // Past two of the old reconnect intervals (retry: 3000): the old page had asked three times by now.
    await page.waitForTimeout(7_000);
    const watchedFrom = Date.now();
    expect(streamRequests.length, `event stream requests while suspended: ${JSON.stringify(streamRequests)}`).to.be.at.most(1);
    await screenshotBothWidths(page, 'streams-suspended');

    await page.getByRole('button', { name: 'Resume' }).click();
    await waitUntil('a stream to open after the resume', () => streamRequests.some((r) => r.at > watchedFrom), 10_000);
    // The worker takes the job: the page follows it to its end on the stream, without a reload.
    await sys.startWorker();
    await statusWord()
      .filter({ hasText: /completed|failed/ })
      .waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: 'Resume' }).count()).to.equal(0);
    await sys.stopWorker();
  });

  it('a stream ended by the end of its session is not reopened: the page shows the sign-in form at once', async () => {
    const id = await newJob('sb-signout.example');
    await signIn(losing, `/console/queue/${id}`);
    await statusWord().filter({ hasText: 'queued' }).waitFor();
    await waitUntil('the stream to open', () => streamRequests.length === 1 && hub().watching().streams === 1, 5_000);
    const asked: number[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/v1/me') asked.push(Date.now());
    });
    // Signed out elsewhere (another tab, a revoked key): the session row is gone.
    const t0 = Date.now();
    await sys.db('console_sessions').where({ reseller_id: losing.id }).del();
    // The server ends the stream within its credential re-check (300 ms here), not at its 300 s cap.
    await waitUntil('the server to end the stream', () => hub().watching().streams === 0, 5_000);
    const endedAt = Date.now();
    expect(endedAt - t0, 'the stream ended').to.be.below(2_000);
    await page.getByLabel('API key').waitFor({ timeout: 10_000 });
    // The page learned it from the stream's end (it asked who is signed in), not at its next poll.
    expect(asked.length, 'GET /v1/me after the stream ended').to.be.at.least(1);
    expect(asked[0] - endedAt).to.be.below(1_000);
    // Longer than the old reconnect interval (retry: 3000): no reconnect follows.
    await page.waitForTimeout(3_500);
    expect(streamRequests.length, `event stream requests: ${JSON.stringify(streamRequests)}`).to.equal(1);
    await screenshotBothWidths(page, 'streams-signed-out');
  });
});
