import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expectAccessible, SCREENSHOTS, signIn as signInAs, startConsoleSuite, stopConsoleSuite, WIDTHS } from '../helpers/console-browser';
import { allItems, authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import type { TestSystem } from '../helpers/system';

/**
 * The job page of a big job, in real Chromium against the real API, worker, Postgres and Redis,
 * walked as a reseller: search by domain, filter by status and reason, the filters and the page in
 * the URL (a reload or a copied link gives the same view; back and forward work), the options the
 * job ran with, and the outcome told straight (an all-failed job is red, never green; a cancelled
 * one never reads 100 %). Also: every console page fits 390 px without sideways scrolling.
 *
 * Screenshots go to SHOTS_DIR (default test-artifacts/screenshots), as job-<name>-<width>.png.
 */
describe('job details for big jobs (browser)', function () {
  this.timeout(180_000);
  const SHOTS = process.env.SHOTS_DIR ?? SCREENSHOTS;
  let sys: TestSystem;
  let registry!: ScriptedRegistry;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async function () {
    this.timeout(240_000);
    ({ sys, browser, losing, gaining } = await startConsoleSuite('jd', {
      config: { CHUNK_SIZE: 50 },
      registry: (db) => {
        registry = new ScriptedRegistry(db);
        return registry;
      },
    }));
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(() => stopConsoleSuite({ sys, browser }));
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const signIn = (who: TestReseller, to: string) => signInAs(page, sys, who, to);

  /** The page never scrolls sideways (a table may scroll inside its own box). */
  async function expectNoSidewaysScroll(label: string) {
    const { scrollWidth, clientWidth } = await page.evaluate(() => {
      const el = document.scrollingElement!;
      return { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth };
    });
    expect(scrollWidth, `${label} scrolls sideways (${scrollWidth} > ${clientWidth})`).to.be.at.most(clientWidth);
  }

  /** Screenshots at 1280 and 390 px, each checked for sideways scrolling; back to 1280 after. */
  async function shoot(name: string, opts: { fullPage?: boolean } = {}) {
    for (const width of [WIDTHS.wide, WIDTHS.narrow]) {
      await page.setViewportSize({ width, height: 900 });
      // A layout after a resize is done once the page's width is the viewport's.
      await page.waitForFunction((w) => document.documentElement.clientWidth === w, width);
      await expectNoSidewaysScroll(`${name} at ${width}px`);
      await page.screenshot({ path: path.join(SHOTS, `job-${name}-${width}.png`), fullPage: opts.fullPage ?? true });
    }
    await page.setViewportSize({ width: WIDTHS.wide, height: 900 });
  }

  const itemsTable = () => page.getByRole('table', { name: 'Items of this job' });
  const heading = () => page.getByRole('heading', { level: 1 });
  const search = () => new URL(page.url()).searchParams;

  /** Waits until the items table shows exactly these domains. */
  async function waitForDomains(expected: string[]) {
    await page.waitForFunction(
      (want) => {
        const got = [...document.querySelectorAll('table.items tbody td.domain')].map((td) => td.textContent);
        return got.length === want.length && got.every((d, i) => d === want[i]);
      },
      expected,
      { timeout: 15_000 },
    );
  }

  it('a big job: search by domain, filter by status and reason, filters and page in the URL, the options it ran with', async () => {
    const present = names('bigjob', 300);
    const missing = names('bigjob-missing', 20);
    await importDomains(
      sys,
      present.map((name, i) => ({ name, reseller: losing.username, locked: i % 10 === 0 })),
    );
    const sub = await submit(sys, losing, {
      gaining_reseller: gaining.username,
      domains: [...present, ...missing, present[7]],
      email_results_to: 'results@jd-losing.example',
    });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    const id: string = sub.body.id;
    const ended = await waitForJob(sys, losing, id, undefined, 60_000);
    expect(ended.counts).to.include({ pushed: 270, skipped: 30, failed: 20 });

    // While the items load the table says so, never "No items".
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await page.route(
      (u) => u.pathname === `/v1/jobs/${id}/items`,
      async (route) => {
        await held;
        await route.continue();
      },
    );
    await signIn(losing, `/console/queue/${id}`);
    await itemsTable().getByRole('cell', { name: 'Loading…' }).waitFor();
    expect(await page.getByText(/No items/).count()).to.equal(0);
    expect(await page.getByRole('status').filter({ hasText: 'Loading…' }).count()).to.equal(1);
    release();
    await page.unroute((u) => u.pathname === `/v1/jobs/${id}/items`);
    await waitForDomains(present.slice(0, 50));
    await page.getByText('Showing items 1–50, more on the next page.').waitFor();

    // The outcome in words and tone; the options the job ran with.
    const badge = heading().locator('.badge');
    expect(await badge.textContent()).to.equal('Completed with 20 failures and 30 skipped');
    expect(await badge.getAttribute('class')).to.include('tone-warning');
    const options = page.locator('dl.options');
    const option = async (label: string) =>
      (await options
        .locator('div', { has: page.locator(`dt:text-is("${label}")`) })
        .locator('dd')
        .textContent())!;
    expect(await option('Profile')).to.equal('A new profile for each domain owner');
    expect(await option('Locked domains')).to.equal('Skipped (left locked)');
    expect(await option('Results email')).to.equal('results@jd-losing.example');
    expect(await option('Schedule')).to.match(/^At once; started /);
    expect(await option('Source')).to.equal('Domains picked or listed by name');
    expect(await option('Duplicates removed')).to.equal('1');
    const facts = page.locator('dl.facts');
    expect(
      await facts
        .locator('div', { has: page.locator('dt:text-is("Submitted by")') })
        .locator('dd')
        .textContent(),
    ).to.equal(`The API with key ${losing.key.slice(0, 8)}…`);

    // Search by domain (any case): one row, and the URL holds it.
    await page.getByLabel('Search domains').fill('BIGJOB-00123');
    await waitForDomains(['bigjob-00123.example']);
    expect(search().get('q')).to.equal('BIGJOB-00123');

    // Reason filter: the locked domains, skipped, each "Was locked: yes".
    await page.getByLabel('Search domains').fill('');
    await waitForDomains(present.slice(0, 50));
    await page.getByLabel('Reason').selectOption('locked');
    const locked = present.filter((_, i) => i % 10 === 0);
    await waitForDomains(locked);
    expect(search().get('reason')).to.equal('locked');
    const lockedRows = itemsTable().locator('tbody tr');
    expect(await lockedRows.locator('td:nth-child(2)').allTextContents()).to.deep.equal(Array(30).fill('skipped'));
    expect(await lockedRows.locator('td:nth-child(5)').allTextContents()).to.deep.equal(Array(30).fill('yes'));

    // Status and reason together, then a search within them.
    await page.getByLabel('Reason').selectOption('not_found');
    await page.getByLabel('Status').selectOption('failed');
    await waitForDomains(missing);
    await page.getByLabel('Search domains').fill('missing-0001');
    await waitForDomains(missing.slice(10, 20));
    expect(Object.fromEntries(search())).to.deep.equal({ q: 'missing-0001', status: 'failed', reason: 'not_found' });
    const csv = await page.getByRole('link', { name: /Download CSV/ }).getAttribute('href');
    // The link carries the console session's binding (a plain link cannot send the header).
    const params = new URL(csv!, sys.url).searchParams;
    expect(params.get('session_binding')).to.be.a('string');
    params.delete('session_binding');
    expect(params.toString()).to.equal('format=csv&q=missing-0001&status=failed&reason=not_found');
    await expectAccessible(page, 'job details, filtered');
    await shoot('big-filtered');

    // A reload of the URL gives the same view, controls included.
    await page.reload();
    await waitForDomains(missing.slice(10, 20));
    expect(await page.getByLabel('Search domains').inputValue()).to.equal('missing-0001');
    expect(await page.getByLabel('Status').inputValue()).to.equal('failed');
    expect(await page.getByLabel('Reason').inputValue()).to.equal('not_found');

    // Back: the view before the search; forward: the search again.
    await page.goBack();
    await waitForDomains(missing);
    expect(await page.getByLabel('Search domains').inputValue()).to.equal('');
    await page.goForward();
    await waitForDomains(missing.slice(10, 20));

    // Pages: the cursor and the page number in the URL; back, forward and a reload work.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await waitForDomains(present.slice(0, 50));
    expect(search().toString()).to.equal('');
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitForDomains(present.slice(50, 100));
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitForDomains(present.slice(100, 150));
    expect(search().get('page')).to.equal('3');
    expect(search().get('cursor')).to.be.a('string');
    await page.getByText('Showing items 101–150, more on the next page.').waitFor();
    await page.goBack();
    await waitForDomains(present.slice(50, 100));
    await page.goForward();
    await waitForDomains(present.slice(100, 150));
    await page.reload();
    await waitForDomains(present.slice(100, 150));
    await page.getByRole('button', { name: 'Previous page' }).click();
    await waitForDomains(present.slice(50, 100));

    // A copied link, opened in a new tab: the same page of the same view.
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitForDomains(present.slice(100, 150));
    const link = page.url();
    const other = await context.newPage();
    await other.goto(link);
    await other.waitForFunction((first) => document.querySelector('table.items tbody td.domain')?.textContent === first, present[100]);
    await other.getByRole('button', { name: 'First page' }).click();
    await other.waitForFunction((first) => document.querySelector('table.items tbody td.domain')?.textContent === first, present[0]);
    await other.close();

    // A bigger page shows the rest at once, with no next page.
    await page.getByLabel('Per page').selectOption('500');
    await waitForDomains([...present, ...missing]);
    expect(await page.getByRole('button', { name: 'Next page' }).count()).to.equal(0);
    await page.getByLabel('Per page').selectOption('50');
    await waitForDomains(present.slice(0, 50));
    await expectAccessible(page, 'job details');
    await shoot('big');
  });

  it('a job whose every item failed reads as failed: a red "All failed", no green anywhere on the page', async () => {
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains: names('allfail', 2) });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    const job = await waitForJob(sys, losing, sub.body.id);
    expect(job.status).to.equal('completed');
    await signIn(losing, `/console/queue/${sub.body.id}`);
    await waitForDomains(names('allfail', 2));
    const badge = heading().locator('.badge');
    expect(await badge.textContent()).to.equal('All failed');
    expect(await badge.getAttribute('class')).to.include('tone-danger');
    expect(await page.locator('.outcome-line').textContent()).to.equal('All 2 failed');
    const bar = page.getByRole('progressbar', { name: /Progress of/ });
    expect(await bar.getAttribute('aria-valuetext')).to.match(/^0 of 2 pushed, 2 failed/);
    expect(await page.locator('.progress .pct').textContent()).to.equal('0 % pushed');
    // Nothing green: no success tone, no done segment, no green count badge.
    expect(await page.locator('main .tone-success, main .seg-done, main .badge-done, main .badge-completed').count()).to.equal(0);
    const green = await page.evaluate(
      () =>
        [...document.querySelectorAll('main *')].filter((el) => {
          const c = getComputedStyle(el);
          return [c.backgroundColor, c.color].some(
            (v) => v === 'rgb(218, 251, 225)' || v === 'rgb(26, 127, 55)' || v === 'rgb(19, 108, 46)',
          );
        }).length,
    );
    expect(green).to.equal(0);
    await expectAccessible(page, 'all-failed job');
    await shoot('all-failed');
  });

  it('a cancelled job reads "Cancelled after N of M pushed", neutral, and its bar never says 100 %', async () => {
    const domains = names('jdcancel', 300);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username, locked: true })),
    );
    const hold = registry.holdUnlocks(domains);
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, apply_to_locked: true });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    await waitForJob(sys, losing, sub.body.id, ['running']);
    await signIn(losing, `/console/queue/${sub.body.id}`);
    await heading().getByText('Running').waitFor();
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this job?' });
    await dialog.getByRole('button', { name: 'Yes, cancel the job' }).click();
    await heading()
      .getByText(/Cancelling|Cancelled/)
      .waitFor();
    hold();
    const job = await waitForJob(sys, losing, sub.body.id);
    expect(job.status).to.equal('cancelled');
    const badge = heading().locator('.badge');
    await heading()
      .getByText(/^Cancelled after/)
      .waitFor();
    expect(await badge.textContent()).to.equal(`Cancelled after ${job.counts.pushed} of 300 pushed`);
    expect(await badge.getAttribute('class')).to.include('tone-neutral');
    const bar = page.getByRole('progressbar', { name: /Progress of/ });
    expect(Number(await bar.getAttribute('aria-valuenow'))).to.be.below(100);
    expect(await page.locator('.progress .pct').textContent()).to.not.match(/^100 %/);
    expect(await bar.locator('.seg-cancelled').count()).to.equal(1);
    await page.getByLabel('Reason').selectOption('cancelled');
    await itemsTable().locator('tbody tr').first().waitFor();
    await expectAccessible(page, 'cancelled job');
    await shoot('cancelled');
  });

  it('a scheduled push shows its start and a live countdown; Suspend, Resume, Reschedule; Stop cancels every item', async () => {
    const domains = names('jdsched', 120);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    const startAt = new Date(Date.now() + 50 * 60_000);
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, start_at: startAt.toISOString() });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    expect(sub.body.status).to.equal('scheduled');
    const id: string = sub.body.id;
    await signIn(losing, `/console/queue/${id}`);
    await heading().getByText('Scheduled').waitFor();
    const timer = page.getByRole('timer');
    const first = await timer.textContent();
    expect(first).to.match(/^in (49|50) min \d\d s$/);
    await page.waitForFunction((was) => document.querySelector('[role=timer]')?.textContent !== was, first); // it counts down
    expect(await page.getByRole('heading', { name: 'Waiting to start' }).count()).to.equal(1);
    const option = (label: string) =>
      page
        .locator('dl.options div', { has: page.locator(`dt:text-is("${label}")`) })
        .locator('dd')
        .textContent();
    expect(await option('Schedule')).to.match(/^At .+; not started yet$/);
    await expectAccessible(page, 'scheduled job');
    await shoot('scheduled', { fullPage: false });

    await page.getByRole('button', { name: 'Suspend' }).click();
    await heading().getByText('Suspended').waitFor();
    await page.getByRole('heading', { name: 'Suspended before it started' }).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await heading().getByText('Scheduled').waitFor();

    // Reschedule to two hours from now.
    await page.getByRole('button', { name: 'Reschedule' }).click();
    const later = new Date(Date.now() + 2 * 3_600_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = `${later.getFullYear()}-${pad(later.getMonth() + 1)}-${pad(later.getDate())}T${pad(later.getHours())}:${pad(later.getMinutes())}`;
    await page.getByLabel('Start at (your time)').fill(local);
    await expectAccessible(page, 'reschedule form');
    await page.getByRole('button', { name: 'Save new start' }).click();
    await page.waitForFunction(() => /^in (1 h 5\d|2 h 00) min$/.test(document.querySelector('[role=timer]')?.textContent ?? ''));
    const rescheduled = await sys.http().get(`/v1/jobs/${id}`).set('Authorization', `Bearer ${losing.key}`);
    expect(Math.abs(new Date(rescheduled.body.start_at).getTime() - later.getTime())).to.be.below(60_000);

    // Stop, confirmed: nothing moved, every item cancelled.
    await page.getByRole('button', { name: 'Stop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop this job before it starts?' });
    await dialog.getByText('Nothing has moved yet').waitFor();
    await expectAccessible(page, 'stop confirmation');
    await dialog.getByRole('button', { name: 'Yes, stop it' }).click();
    await heading().getByText('Cancelled after 0 of 120 pushed').waitFor();
    const items = await allItems(sys, losing, id);
    expect(items.map((i) => i.status)).to.deep.equal(Array(120).fill('cancelled'));
    const owners = await sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .pluck('r.username');
    expect(owners).to.deep.equal(Array(120).fill(losing.username));
    expect(await page.getByRole('button', { name: 'Reschedule' }).count()).to.equal(0);
    expect(await option('Schedule')).to.match(/; never started$/);
  });

  it('a push in its grace window counts down and can be stopped from the job page', async () => {
    const domains = names('jdgrace', 3);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, start_after_seconds: 600 });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    await signIn(losing, `/console/queue/${sub.body.id}`);
    await page
      .getByRole('timer')
      .getByText(/^in (9|10) min \d\d s$/)
      .waitFor();
    expect(
      await page
        .locator('dl.options div', { has: page.locator('dt:text-is("Schedule")') })
        .locator('dd')
        .textContent(),
    ).to.match(/^After a 600 s grace window; starts /);
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('dialog', { name: 'Stop this job before it starts?' }).getByRole('button', { name: 'Yes, stop it' }).click();
    await heading().getByText('Cancelled after 0 of 3 pushed').waitFor();
    expect((await allItems(sys, losing, sub.body.id)).map((i) => i.status)).to.deep.equal(['cancelled', 'cancelled', 'cancelled']);
  });

  it('every console page fits 390 px without sideways scrolling, says "Loading…" while it loads, and is axe-clean', async () => {
    // Something on each page: a customer with a package, a received brand and profile, a job. A
    // receiver of its own, so its lists are short whatever ran before.
    const gaining = await makeReseller(sys, 'jd-receiver');
    await authorize(sys, gaining, losing);
    const customer = await sys
      .http()
      .post('/v1/customers')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ name: 'Grace Hopper Consolidated Holdings International', email: 'grace.hopper@a-very-long-customer-domain-name.example' });
    expect(customer.status).to.equal(201);
    const pkg = await sys
      .http()
      .post(`/v1/customers/${customer.body.id}/packages`)
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ name: 'Web hosting' });
    expect(pkg.status).to.equal(201);
    await importDomains(sys, [
      {
        name: 'a-rather-long-branded-domain-name-for-narrow-screens.example',
        reseller: losing.username,
        brand: 'Sunrise',
        profile: { username: 'sunrise-owner-with-a-long-name' },
      },
    ]);
    const sub = await submit(sys, losing, {
      gaining_reseller: gaining.username,
      domains: ['a-rather-long-branded-domain-name-for-narrow-screens.example'],
    });
    expect((await waitForJob(sys, losing, sub.body.id)).counts.pushed).to.equal(1);

    // Loading: each page's list says "Loading…" until it has its answer, never its empty message.
    let release!: () => void;
    let held = new Promise<void>((r) => (release = r));
    const lists = ['/v1/customers', '/v1/profiles', '/v1/brands', '/v1/push-settings'];
    await page.route(
      (u) => lists.includes(u.pathname),
      async (route) => {
        await held;
        await route.continue();
      },
    );
    await signIn(gaining, '/console/domains');
    for (const [label, to, empty] of [
      ['Customers', '/customers', /No customers/],
      ['Profiles', '/profiles', /No profiles/],
      ['Brands', '/brands', /No brands/],
      ['Push domain settings', '/settings', /Nobody may push/],
    ] as const) {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: label }).click();
      await page.waitForURL(`**/console${to}`);
      await page.locator('main').getByText('Loading…').first().waitFor();
      expect(await page.getByText(empty).count(), `${label} shows its empty message while loading`).to.equal(0);
      release();
      await page.locator('main').getByText('Loading…').waitFor({ state: 'detached' });
      held = new Promise<void>((r) => (release = r));
    }
    release();
    await page.unroute((u) => lists.includes(u.pathname));

    const pages: [name: string, to: string, ready: () => Promise<void>][] = [
      ['domains', '/console/domains', () => page.getByRole('heading', { name: 'Domains' }).waitFor()],
      ['queue', '/console/queue', () => page.getByText('Received from jd-losing').first().waitFor()],
      [
        'customers',
        '/console/customers',
        async () => {
          const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: /Grace Hopper/ }) });
          await card.getByRole('button', { name: 'Service packages' }).click();
          await card.getByRole('heading', { name: 'Web hosting' }).waitFor();
        },
      ],
      ['profiles', '/console/profiles', () => page.getByRole('row', { name: /sunrise-owner-with-a-long-name/ }).waitFor()],
      ['brands', '/console/brands', () => page.getByText('Read-only (copied)').first().waitFor()],
      ['settings', '/console/settings', () => page.getByRole('row', { name: /jd-losing/ }).waitFor()],
      [
        'received-job',
        `/console/queue/${sub.body.id}`,
        () => waitForDomains(['a-rather-long-branded-domain-name-for-narrow-screens.example']),
      ],
    ];
    for (const [name, to, ready] of pages) {
      await page.goto(sys.url + to);
      await ready();
      await expectAccessible(page, name);
      await shoot(`page-${name}`);
    }
  });
});
