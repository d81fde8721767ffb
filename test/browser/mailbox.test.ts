import fs from 'node:fs';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parseCsvRecords } from '../helpers/csv';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { launchChromium, screenshotPath } from '../helpers/console-browser';
import { waitUntil } from '../helpers/resilience';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/**
 * With the capture (no SMTP_URL) an operator reads every email in a browser, the
 * emails have an HTML part a person can read, and a captured claim invitation keeps its link.
 */
describe('the mailbox at /admin/emails, in Chromium', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let losing: TestReseller;
  let gaining: TestReseller;
  const EVIL_CUSTOMER = `<img src=x onerror="document.title='pwned'">Ann & "Co"`;
  const EVIL_RESELLER = 'Losing <b>Ltd</b> & Sons';

  before(async () => {
    sys = await startSystem({ config: { SMTP_URL: undefined, CHUNK_SIZE: 5 } });
    expect(sys.rt.deps.mailer.kind).to.equal('capture');
    losing = await makeReseller(sys, 'losing');
    gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
    await sys
      .http()
      .patch('/v1/admin/resellers/losing')
      .set('Authorization', `Bearer ${OPERATOR_KEY}`)
      .send({ name: EVIL_RESELLER })
      .expect(200);
    await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ email: 'intake@gaining.example' })
      .expect(200);

    // A push with every kind of outcome: 4 pushed, 2 skipped (locked), 1 not_owned, 1 not_found.
    const mine = names('mail', 6);
    await importDomains(sys, [
      ...mine.map((name, i) => ({ name, reseller: 'losing', locked: i >= 4 })),
      { name: 'theirs.example', reseller: 'gaining' },
    ]);
    const push = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains: [...mine, 'theirs.example', 'nowhere.example'],
      email_results_to: 'ops@losing.example',
    });
    expect(push.status, JSON.stringify(push.body)).to.equal(202);
    await waitForJob(sys, losing, push.body.id);

    // A customer release, whose end writes the claim invitation.
    const customer = await sys
      .http()
      .post('/v1/customers')
      .set('Authorization', `Bearer ${losing.key}`)
      .send({ name: EVIL_CUSTOMER, email: 'ann@customer.example' });
    expect(customer.status, JSON.stringify(customer.body)).to.equal(201);
    await importDomains(
      sys,
      names('ann', 2).map((name) => ({ name, reseller: 'losing', customer: customer.body.id })),
    );
    const release = await sys.http().post(`/v1/customers/${customer.body.id}/release`).set('Authorization', `Bearer ${losing.key}`);
    expect(release.status, JSON.stringify(release.body)).to.equal(202);
    await waitForJob(sys, losing, release.body.id);

    await waitUntil('three captured emails', async () => {
      const n = await sys.db('outbound_emails').whereNotNull('sent_at').where({ transport: 'capture' }).count('* as n').first();
      return Number(n!.n) === 3;
    });

    browser = await launchChromium();
    context = await browser.newContext({ httpCredentials: { username: 'operator', password: OPERATOR_KEY }, acceptDownloads: true });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await sys?.stop();
  });

  async function open(subject: RegExp) {
    await page.goto(`${sys.url}/admin/emails`);
    await page.getByRole('link', { name: subject }).click();
    await page.waitForLoadState('load');
  }

  it('without the operator key the browser is asked for basic auth (401 with WWW-Authenticate), never shown mail', async () => {
    const res = await sys.http().get('/admin/emails').set('Accept', 'text/html');
    expect(res.status).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Basic realm=/);
    expect(res.text).to.not.include('Claim your account');
    const wrong = await sys.http().get('/admin/emails').auth('operator', 'not-the-key-0123456789');
    expect(wrong.status).to.equal(401);
  });

  it('lists every email newest first with recipient, subject, status and parts', async () => {
    await page.goto(`${sys.url}/admin/emails`);
    expect(await page.title()).to.equal('Emails · domain-push mailbox');
    await page.screenshot({ path: screenshotPath('mailbox-list'), fullPage: true });
    const rows = await page
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
    expect(rows).to.have.length(3);
    // A kind's finish hook (the gaining notification) writes before the engine's results email.
    expect(rows.map((r) => r[1])).to.deep.equal(['ann@customer.example', 'ops@losing.example', 'intake@gaining.example']);
    expect(rows[0][2]).to.match(/^\[domain-push\] Claim your account/);
    expect(rows[1][2]).to.equal('[domain-push] Bulk push to gaining: completed with 2 failures and 2 skipped (4 of 8 pushed)');
    expect(rows[2][2]).to.equal('[domain-push] 4 domains received from losing');
    for (const r of rows) expect(r[3]).to.equal('captured');
    for (const r of rows) expect(r[4]).to.equal('text + HTML');
    await expect(page.getByRole('note')).to.be.ok;
    expect(await page.getByRole('note').textContent()).to.include("recipient's copy");
  });

  it('the results email shows a table of counts and the first failures with reasons, and its CSV downloads', async () => {
    await open(/Bulk push to gaining/);
    const frame = page.frameLocator('iframe[title="HTML part of the email"]');
    const counts = await frame
      .getByRole('table', { name: 'Items by status' })
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
    expect(counts).to.deep.equal([
      ['pushed', '4'],
      ['skipped', '2'],
      ['failed', '2'],
      ['total', '8'],
    ]);
    const problems = await frame
      .getByRole('table', { name: 'Items not done' })
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
    expect(problems.map((p) => p.slice(0, 3))).to.deep.equal([
      [names('mail', 6)[4], 'skipped', 'locked'],
      [names('mail', 6)[5], 'skipped', 'locked'],
      ['theirs.example', 'failed', 'not_owned'],
      ['nowhere.example', 'failed', 'not_found'],
    ]);
    for (const p of problems) expect(p[3], 'a message a person can read').to.not.equal('');
    expect(await frame.locator('h2').first().textContent()).to.equal('Not done: failed or skipped (all 4)');
    expect(await page.locator('pre').textContent()).to.include('Items in the job: 8');
    await page.screenshot({ path: screenshotPath('mailbox-results-email'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /results\.csv$/ }).click()]);
    expect(download.suggestedFilename()).to.match(/^push-[0-9a-f-]+-results\.csv$/);
    const csv = parseCsvRecords(fs.readFileSync((await download.path())!, 'utf8'));
    expect(csv).to.have.length(8);
    expect(csv.find((r) => r.domain === 'theirs.example')).to.include({ status: 'failed', reason: 'not_owned' });
  });

  it('the gaining notification lists the domains received in HTML and attaches them as CSV', async () => {
    await open(/4 domains received from losing/);
    const frame = page.frameLocator('iframe[title="HTML part of the email"]');
    const domains = await frame.getByRole('table', { name: 'Domains received' }).locator('tbody td').allTextContents();
    expect(domains.sort()).to.deep.equal(names('mail', 4));
    expect(await page.getByRole('link', { name: /received\.csv$/ }).count()).to.equal(1);
    await page.screenshot({ path: screenshotPath('mailbox-gaining-notification'), fullPage: true });
  });

  it('the captured claim invitation keeps its link, escapes what people typed, and the link claims the account', async () => {
    await open(/Claim your account/);
    const frame = page.frameLocator('iframe[title="HTML part of the email"]');
    // Names typed by people are text, not markup: no image element, no script ran, the characters shown as typed.
    expect(await frame.locator('img').count()).to.equal(0);
    expect(await frame.locator('b').count()).to.equal(0);
    const body = await frame.locator('body').textContent();
    expect(body).to.include(`Hello ${EVIL_CUSTOMER},`).and.include(EVIL_RESELLER);
    expect(await page.title()).to.not.equal('pwned');
    const products = await frame.getByRole('table', { name: 'Products released to you' }).locator('tbody tr').count();
    expect(products).to.equal(2);
    await page.screenshot({ path: screenshotPath('mailbox-claim-invitation'), fullPage: true });

    const href = await frame.locator('a[data-claim-link]').getAttribute('href');
    expect(href).to.match(/\/v1\/claims\/claim_[A-Za-z0-9_-]+$/);
    expect(await page.locator('pre').textContent()).to.include(new URL(href!).pathname);
    const token = href!.split('/').pop()!;
    const claimed = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
    expect(claimed.status, JSON.stringify(claimed.body)).to.equal(201);
    const again = await sys.http().post(`/v1/claims/${token}`).send({ choice: 'new_account' });
    expect(again.status).to.equal(410);
  });

  it('the email HTML is served sandboxed: no scripts, nothing loaded from elsewhere', async () => {
    const row = await sys.db('outbound_emails').where('dedupe_key', 'like', 'claim:%').first('id');
    const res = await sys.http().get(`/admin/emails/${row.id}/html`).auth('operator', OPERATOR_KEY);
    expect(res.status).to.equal(200);
    expect(res.headers['content-security-policy']).to.include('sandbox').and.include("default-src 'none'");
    const missing = await sys.http().get('/admin/emails/999999/attachments/0').auth('operator', OPERATOR_KEY);
    expect(missing.status).to.equal(404);
    expect(missing.body.error.code).to.equal('not_found');
  });
});
