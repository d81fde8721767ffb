import fs from 'node:fs';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parseCsv } from '../helpers/csv';
import {
  expectAccessible,
  SCREENSHOTS,
  screenshotBothWidths,
  signIn as signInAs,
  startConsoleSuite,
  stopConsoleSuite,
} from '../helpers/console-browser';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import type { TestSystem } from '../helpers/system';

/**
 * The reseller console in real Chromium against the real API, worker, Postgres and Redis. Each
 * test signs in in a fresh browser context and arranges its own domains.
 */
describe('reseller console (browser)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let registry!: ScriptedRegistry;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async function () {
    this.timeout(240_000);
    ({ sys, browser, losing, gaining } = await startConsoleSuite('console', {
      config: { CHUNK_SIZE: 50 },
      registry: (db) => {
        registry = new ScriptedRegistry(db);
        return registry;
      },
    }));
  });
  after(() => stopConsoleSuite({ sys, browser }));
  beforeEach(async () => {
    registry.delayMs = 0;
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sys.url });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  const signIn = (who: TestReseller = losing, path = '/console/domains') => signInAs(page, sys, who, path);

  async function ownerOf(domains: string[]) {
    const rows = await sys
      .db('domains as d')
      .leftJoin('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .select('d.name', 'r.username', 'd.locked');
    return new Map(rows.map((r) => [r.name, r]));
  }

  /** A real paste (clipboard + Ctrl+V): one input event, as when a reseller pastes a long list. */
  async function paste(label: string, text: string) {
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.getByLabel(label).focus();
    await page.keyboard.press('ControlOrMeta+V');
  }

  async function jobIdFromUrl(): Promise<string> {
    await page.waitForURL(/\/console\/queue\?submitted=/);
    return new URL(page.url()).searchParams.get('submitted')!;
  }

  it('the console is served at /console as static files with no inline script, and any console path gets the app', async () => {
    const res = await fetch(`${sys.url}/console/queue/whatever`);
    expect(res.status).to.equal(200);
    const html = await res.text();
    expect(html).to.match(/<script type="module" crossorigin src="\/console\/assets\/[^"]+\.js"><\/script>/);
    expect(html).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is a file: a strict CSP works
    expect((await fetch(`${sys.url}/console`, { redirect: 'manual' })).headers.get('location')).to.equal('/console/');
    expect((await fetch(`${sys.url}/console/assets/missing.js`)).status).to.equal(404);
  });

  it('signing in exchanges the API key for an httpOnly session cookie; the key stays nowhere in the browser', async () => {
    await page.goto(`${sys.url}/console/`);
    await expectAccessible(page, 'sign-in');
    await screenshotBothWidths(page, 'sign-in');
    await page.getByLabel('API key').fill('dpk_wrong-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('The API key is not valid.').waitFor();
    await page.getByLabel('API key').fill(losing.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'dp_session')!;
    expect(session.httpOnly).to.equal(true);
    expect(session.sameSite).to.equal('Strict');
    const stored = await page.evaluate(() =>
      JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }),
    );
    expect(stored).to.not.include(losing.key);
    expect(stored).to.not.include(session.value);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect((await context.cookies()).find((c) => c.name === 'dp_session')).to.equal(undefined);
  });

  it('ticking 3 domains, previewing and moving them pushes exactly those 3', async () => {
    const domains = names('tick', 6);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    await signIn();
    await page.getByLabel('Search domains').fill('tick-');
    await page.getByText('1–6 of 6').waitFor();
    await expectAccessible(page, 'domains');
    await screenshotBothWidths(page, 'domains');
    const picked = domains.slice(0, 3);
    for (const d of picked) await page.getByLabel(`Select ${d}`).check();
    await page.getByText('3 selected').waitFor();
    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    await page.getByText('A push cannot be undone.').waitFor();
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('3 pushed').waitFor();
    expect(await page.getByRole('table', { name: 'Predicted outcome per domain' }).locator('tbody tr').count()).to.equal(3);
    await expectAccessible(page, 'move form with preview');
    await screenshotBothWidths(page, 'move-form');
    expect([...(await ownerOf(picked)).values()].map((r) => r.username)).to.deep.equal(Array(3).fill(losing.username)); // a preview changes nothing
    await page.getByLabel('When to start').selectOption('0'); // at once, not after the 30 s grace window
    await page.getByRole('button', { name: 'Move domain' }).click(); // opens the review; Confirm moves
    await page
      .getByRole('dialog', { name: /^Move 3 domains/ })
      .getByRole('button', { name: 'Move 3 domains' })
      .click();
    const id = await jobIdFromUrl();
    const job = await waitForJob(sys, losing, id);
    expect(job.total).to.equal(3);
    expect(job.counts.pushed).to.equal(3);
    const owners = await ownerOf(domains);
    expect(picked.map((d) => owners.get(d)!.username)).to.deep.equal(Array(3).fill(gaining.username));
    expect(domains.slice(3).map((d) => owners.get(d)!.username)).to.deep.equal(Array(3).fill(losing.username));
  });

  it('"select all N matching" with the locked filter previews every matching domain, not just the page', async () => {
    const domains = names('selall', 120);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: losing.username, locked: i % 2 === 0 })),
    );
    await signIn();
    // The name search applies after a pause while the locked filter applies at once, and a filter
    // change clears the selection: wait for the list that has both before selecting.
    const filtered = page.waitForResponse((r) => {
      const u = new URL(r.url());
      return u.pathname === '/v1/domains' && u.searchParams.get('q') === 'selall-' && u.searchParams.get('locked') === 'true';
    });
    await page.getByLabel('Search domains').fill('selall-');
    await page.getByLabel('Locked').selectOption('true');
    await filtered;
    await page.getByText('1–50 of 60').waitFor();
    await page.getByLabel('Select all on this page').check();
    await page.getByText('50 selected').waitFor();
    await page.getByRole('button', { name: 'Select all 60 matching' }).click();
    await page.getByText('60 selected (all 60 matching)').waitFor();
    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('60 skipped').waitFor(); // locked, and Apply to locked domains is off
    await page.getByLabel('Apply to locked domains').check();
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('60 pushed').waitFor();
    const previewed = await page
      .getByRole('table', { name: 'Predicted outcome per domain' })
      .locator('tbody td:first-child')
      .allTextContents();
    expect(previewed).to.deep.equal(domains.filter((_, i) => i % 2 === 0));
  });

  it("a refusal shows the API's message next to the field it names; an uploaded CSV is read from its first column", async () => {
    const domains = names('upload', 2);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    await signIn();
    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    await page.getByLabel('Upload a list (text or CSV)').setInputFiles({
      name: 'list.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`domain,note\n${domains[0]},first\n"${domains[1]}",second\n`),
    });
    await page.getByLabel("Gaining reseller's username").fill('nobody-here');
    const jobsBefore = await sys.db('bulk_jobs').count('* as n').first();
    await page.getByRole('button', { name: 'Move domain' }).click();
    const field = page.getByLabel("Gaining reseller's username");
    await page.getByText('No reseller named "nobody-here".').waitFor();
    expect(await field.getAttribute('aria-invalid')).to.equal('true');
    const describedBy = (await field.getAttribute('aria-describedby'))!;
    expect(await page.locator(`[id="${describedBy.split(' ').pop()}"]`).textContent()).to.equal('No reseller named "nobody-here".');
    expect(await sys.db('bulk_jobs').count('* as n').first()).to.deep.equal(jobsBefore);
    await expectAccessible(page, 'move form with a refusal');
    await field.fill(gaining.username);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('2 pushed').waitFor();
    expect(
      await page.getByRole('table', { name: 'Predicted outcome per domain' }).locator('tbody td:first-child').allTextContents(),
    ).to.deep.equal(domains);
  });

  it('a pasted list of 2,000 moved with apply to locked reaches 100 %; details filter failed; the CSV downloads and parses', async () => {
    const present = names('paste', 1980);
    const missing = names('paste-missing', 20);
    await importDomains(
      sys,
      present.map((name, i) => ({ name, reseller: losing.username, locked: i % 3 === 0 })),
    );
    await signIn();
    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    await paste('Domain list', [...present, ...missing].join('\n'));
    expect((await page.getByLabel('Domain list').inputValue()).split('\n')).to.have.length(2000);
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByLabel('Apply to locked domains').check();
    await page.getByLabel('Another address').check();
    await page.getByLabel('Email address for the results').fill('ops@console-losing.example');
    await page.getByLabel('When to start').selectOption('0'); // at once, not after the 30 s grace window
    await page.getByRole('button', { name: 'Move domain' }).click(); // opens the review; 2,000 asks for the username
    const review = page.getByRole('dialog', { name: /^Move 2,000 domains/ });
    await review.getByLabel(`Type ${gaining.username} to confirm`).fill(gaining.username);
    await review.getByRole('button', { name: 'Move 2,000 domains' }).click();
    const id = await jobIdFromUrl();
    const bar = page.locator(`tr[data-job-id="${id}"] [role=progressbar]`);
    await bar.waitFor();
    // Every item worked (pushed or failed): 100 % worked, 99 % pushed (20 of 2,000 failed).
    await page.waitForFunction(
      (jobId) => document.querySelector(`tr[data-job-id="${jobId}"] [role=progressbar]`)?.getAttribute('aria-valuenow') === '100',
      id,
      {
        timeout: 60_000,
      },
    );
    await page.locator(`tr[data-job-id="${id}"]`).getByText('Completed with 20 failures').waitFor();
    expect(await page.locator(`tr[data-job-id="${id}"] .pct`).textContent()).to.equal('99 % pushed');
    await expectAccessible(page, 'bulk actions queue');
    await screenshotBothWidths(page, 'queue');

    await page
      .locator(`tr[data-job-id="${id}"]`)
      .getByRole('link', { name: /View details/ })
      .click();
    await page.getByRole('heading', { name: /Push to console-gaining/ }).waitFor();
    await page.getByText('Counts by status').waitFor();
    const counts = await page.locator('.counts-list li').allTextContents();
    expect(counts).to.include.members(['pushed 1980', 'failed 20', 'skipped 0', 'cancelled 0']);
    await page.getByLabel('Show items with status').selectOption('failed');
    await page.locator('tbody tr', { hasText: 'not_found' }).first().waitFor();
    const rows = page.getByRole('table', { name: 'Items of this job' }).locator('tbody tr');
    expect(await rows.count()).to.equal(20);
    expect(await rows.locator('td:first-child').allTextContents()).to.deep.equal(missing);
    await expectAccessible(page, 'job details');
    await screenshotBothWidths(page, 'job-details');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    const csv = parseCsv(fs.readFileSync((await download.path())!, 'utf8'));
    expect(csv[0].join(',')).to.equal('domain,status,reason,message,was_locked,relocked,finished_at');
    expect(csv.slice(1).map((r) => `${r[0]} ${r[1]} ${r[2]}`)).to.deep.equal(missing.map((d) => `${d} failed not_found`));

    // Every locked domain moved and is locked again.
    const owners = await ownerOf(present);
    expect(present.filter((d) => owners.get(d)!.username !== gaining.username)).to.deep.equal([]);
    expect(present.filter((d, i) => owners.get(d)!.locked !== (i % 3 === 0))).to.deep.equal([]);
  });

  it('a running job can be suspended, resumed, and cancelled after a confirmation', async () => {
    registry.delayMs = 1000; // every locked domain costs a slow unlock and relock: the job runs for ~30 s
    const domains = names('cancel', 400);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username, locked: true })),
    );
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, apply_to_locked: true });
    expect(sub.status).to.equal(202);
    await waitForJob(sys, losing, sub.body.id, ['running']);
    // The queue while it runs: the live progress bar and the ETA (this is the README's screenshot).
    await signIn(losing, '/console/queue');
    const row = page.locator(`tr[data-job-id="${sub.body.id}"]`);
    await row.locator('.eta', { hasText: 'ETA about' }).waitFor();
    await screenshotBothWidths(page, 'queue-live', { fullPage: false });
    const table = (await page.locator('main').boundingBox())!;
    await page.screenshot({
      path: `${SCREENSHOTS}/console-queue-readme.png`,
      clip: { x: 0, y: 0, width: 1280, height: table.y + table.height },
    });
    await row.getByRole('link', { name: /View details/ }).click();
    const heading = page.getByRole('heading', { name: /Push to console-gaining/ });
    await heading.getByText('running').waitFor();
    await page.getByRole('button', { name: 'Suspend' }).click();
    await heading.getByText('suspended').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Resume' }).click();
    await heading.getByText('running').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this job?' });
    await dialog.getByText('Domains already pushed stay pushed').waitFor();
    await expectAccessible(page, 'cancel confirmation');
    await screenshotBothWidths(page, 'cancel-dialog', { fullPage: false });
    await dialog.getByRole('button', { name: 'Yes, cancel the job' }).click();
    await heading.getByText('cancelled').waitFor({ timeout: 60_000 });
    const job = await waitForJob(sys, losing, sub.body.id);
    expect(job.status).to.equal('cancelled');
    expect(job.counts.cancelled).to.be.greaterThan(0);
    const owners = await ownerOf(domains);
    expect(domains.filter((d) => !owners.get(d)!.locked)).to.deep.equal([]); // locked before, locked after
  });

  it('adding an allowed reseller by company_id lists it and authorizes it', async () => {
    const other = await makeReseller(sys, 'console-other');
    await signIn(losing, '/console/settings');
    await page.getByRole('heading', { name: 'Push domain settings' }).waitFor();
    await page.getByText(losing.company_id, { exact: true }).waitFor();
    await page.getByLabel('Username or company_id').fill('no-such-reseller');
    await page.getByRole('button', { name: 'Add reseller' }).click();
    await page.getByText('No reseller with username or company_id "no-such-reseller".').waitFor();
    await page.getByLabel('Username or company_id').fill(other.company_id);
    await page.getByRole('button', { name: 'Add reseller' }).click();
    await page.getByRole('row', { name: /console-other/ }).waitFor();
    const auth = await sys.db('push_authorizations').where({ gaining_reseller_id: losing.id, losing_reseller_id: other.id }).first();
    expect(auth).to.not.equal(undefined);
    await page.getByLabel('Notification email').fill('incoming@console-losing.example');
    await page.getByRole('button', { name: 'Save notification email' }).click();
    await page.getByText('Saved').waitFor();
    expect((await sys.db('resellers').where({ id: losing.id }).first()).push_notification_email).to.equal(
      'incoming@console-losing.example',
    );
    await expectAccessible(page, 'push domain settings');
    await screenshotBothWidths(page, 'settings');
    await page.getByRole('button', { name: 'Remove console-other' }).click();
    await page.getByRole('row', { name: /console-other/ }).waitFor({ state: 'detached' });
    expect(await sys.db('push_authorizations').where({ gaining_reseller_id: losing.id, losing_reseller_id: other.id }).first()).to.equal(
      undefined,
    );
  });

  it('releasing a customer says all products go with the customer, then releases the customer and all products', async () => {
    const created = await sys
      .http()
      .post('/v1/customers')
      .set('Authorization', `Bearer ${losing.key}`)
      .send({ name: 'Ada Customer', email: 'ada@customer.example' });
    expect(created.status).to.equal(201);
    const customerId = created.body.id;
    const domains = names('ada', 2);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username, customer: customerId })),
    );
    await signIn(losing, '/console/customers');
    const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'Ada Customer' }) });
    await card.getByRole('button', { name: 'Service packages' }).click();
    await card.getByLabel('New package for Ada Customer').fill('Web hosting');
    await card.getByRole('button', { name: 'Add package' }).click();
    await card.getByLabel('Domain for Web hosting').fill(domains[0]);
    await card.getByRole('button', { name: 'Assign domain' }).click();
    await card.getByText(domains[0]).waitFor();
    await card.getByLabel('Domain for Web hosting').fill('ada-elsewhere.example');
    await card.getByLabel('Virtual domain (registered elsewhere)').check();
    await card.getByRole('button', { name: 'Assign domain' }).click();
    await card.getByText('ada-elsewhere.example').waitFor();
    await expectAccessible(page, 'customers');
    await screenshotBothWidths(page, 'customers');
    await card.getByRole('button', { name: 'Release' }).click();
    const dialog = page.getByRole('dialog', { name: 'Release Ada Customer?' });
    await dialog.getByText('All products go with the customer').waitFor();
    await dialog.getByRole('button', { name: 'Release customer and all products' }).click();
    await card.getByText('Release started').waitFor();
    await waitForJob(
      sys,
      losing,
      await card
        .getByRole('link', { name: /Follow it/ })
        .getAttribute('href')
        .then((h) => h!.split('/').pop()!),
    );
    const customer = await sys.db('customers').where({ id: customerId }).first();
    expect(customer.status).to.equal('released');
    const owners = await ownerOf(domains);
    expect(domains.map((d) => owners.get(d)!.username ?? null)).to.deep.equal([null, null]);
    await page.reload();
    await page.getByRole('heading', { name: 'Ada Customer' }).waitFor();
    await card.getByText('released').waitFor();
  });

  it('Profiles and Brands: the gaining side sees its new profiles and a copied brand as read-only', async () => {
    const receiver = await makeReseller(sys, 'console-receiver');
    await authorize(sys, receiver, losing);
    await importDomains(sys, [
      { name: 'branded-1.example', reseller: losing.username, brand: 'Sunrise', profile: { username: 'sunrise-owner' } },
    ]);
    const sub = await submit(sys, losing, { gaining_reseller: receiver.username, domains: ['branded-1.example'] });
    expect((await waitForJob(sys, losing, sub.body.id)).counts.pushed).to.equal(1);
    await signIn(receiver, '/console/brands');
    await page.getByRole('heading', { name: 'Brands' }).waitFor();
    await page.getByText('Read-only (copied)').first().waitFor();
    await page.getByLabel('Brand name').fill('My own brand');
    await page.getByRole('button', { name: 'Add brand' }).click();
    await page
      .getByRole('row', { name: /My own brand/ })
      .getByText('Editable')
      .waitFor();
    await expectAccessible(page, 'brands');
    await screenshotBothWidths(page, 'brands');
    await page.getByRole('link', { name: 'Profiles' }).click();
    await page.getByRole('heading', { name: 'Profiles' }).waitFor();
    await page
      .getByRole('row', { name: /sunrise-owner/ })
      .first()
      .waitFor();
    await expectAccessible(page, 'profiles');
    await screenshotBothWidths(page, 'profiles');
    // The received job is in the gaining reseller's queue too, read-only.
    await page.getByRole('link', { name: 'Bulk actions queue' }).click();
    await page.getByText('Received from console-losing').first().waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).to.equal(0);
  });

  it('is usable with the keyboard: skip link, the Bulk actions menu, and a visible focus ring', async () => {
    await signIn();
    await page.reload();
    await page.getByRole('heading', { name: 'Domains' }).waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    expect(await skip.evaluate((el) => el === document.activeElement)).to.equal(true);
    expect(await skip.evaluate((el) => el.getBoundingClientRect().left >= 0)).to.equal(true);
    const menuButton = page.getByRole('button', { name: /Bulk actions/ });
    await menuButton.focus();
    const ring = await menuButton.evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
    expect(ring).to.not.match(/^none/);
    await page.keyboard.press('Enter');
    const item = page.getByRole('menuitem', { name: 'Move to another reseller' });
    expect(await item.evaluate((el) => el === document.activeElement)).to.equal(true);
    await page.keyboard.press('Escape');
    expect(await menuButton.evaluate((el) => el === document.activeElement)).to.equal(true);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Move to another reseller' }).waitFor();
  });
});
