import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import {
  type ConsoleSuite,
  expectAccessible,
  screenshotBothWidths,
  signIn,
  startConsoleSuite,
  stopConsoleSuite,
  WIDTHS,
} from '../helpers/console-browser';
import { importDomains, names, submit } from '../helpers/fixtures';
import { OPERATOR_KEY } from '../helpers/system';

/**
 * Issue 21's "Audit log" console page in real Chromium against the real API, walked as a reseller:
 * its own account's changes (by its key, its console session and the operator), never another
 * reseller's; who, from where, what and a summary; filters and the page in the URL (a reload
 * gives the same view); the filtered list as a CSV download.
 */
describe('console: Audit log (browser)', function () {
  this.timeout(120_000);
  let suite: ConsoleSuite;
  let context: BrowserContext;
  let page: Page;

  before(async function () {
    this.timeout(240_000);
    suite = await startConsoleSuite('console-audit', { worker: false });
    context = await suite.browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    page = await context.newPage();
  });
  after(async () => {
    await context?.close();
    await stopConsoleSuite(suite);
  });

  const rows = () => page.getByRole('table', { name: 'Audit log entries, newest first' }).locator('tbody tr[data-entry-id]');
  const search = () => Object.fromEntries(new URL(page.url()).searchParams);
  const asLosing = (method: 'post' | 'put', path: string, body: object) =>
    suite.sys.http()[method](path).set('Authorization', `Bearer ${suite.losing.key}`).send(body);

  it("lists the account's own changes by key, console and operator, newest first; filters by action and who, in the URL", async () => {
    const { losing } = suite;
    // By the reseller's key, by the operator, then by the console session (a key made on the API keys page).
    expect((await asLosing('put', '/v1/push-settings/notification-email', { email: 'ops@audit.example' })).status).to.equal(200);
    const op = await suite.sys
      .http()
      .post(`/v1/admin/resellers/${losing.username}/api-keys`)
      .set('Authorization', `Bearer ${OPERATOR_KEY}`)
      .send({ label: 'issued by the operator' });
    expect(op.status, JSON.stringify(op.body)).to.equal(201);
    await signIn(page, suite.sys, losing, '/console/api-keys');
    await page.getByLabel('Label (optional)').fill('made in the console');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('button', { name: 'Done, hide the key' }).click();

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    await rows().first().waitFor();
    const texts = await rows().allTextContents();
    // Newest first: the console's key, then the operator's, then the key's email change (sign-in in between).
    const consoleKey = texts.findIndex((t) => t.includes('api_key.create') && t.includes('Console'));
    const operatorKey = texts.findIndex((t) => t.includes('api_key.create') && t.includes('Operator'));
    const email = texts.findIndex((t) => t.includes('push_settings.notification_email') && t.includes(`API key ${losing.key.slice(0, 8)}`));
    expect(
      [consoleKey, operatorKey, email].every((i) => i >= 0),
      texts.join('\n'),
    ).to.equal(true);
    expect(consoleKey).to.be.below(operatorKey);
    expect(operatorKey).to.be.below(email);
    // The gaining reseller's own change (it authorized losing) is not in losing's log.
    expect(texts.join('\n')).to.not.include('push_settings.allow');
    const emailRow = rows().nth(email);
    expect(await emailRow.locator('td').nth(3).textContent()).to.match(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(await emailRow.locator('td').nth(5).textContent()).to.include('email');
    await expectAccessible(page, 'audit log');
    await screenshotBothWidths(page, 'audit-log');

    // Action filter: API keys only.
    await page.getByLabel('Action').selectOption('api_key.');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('table.audit tbody tr[data-entry-id] td:nth-child(2) code')].every((c) =>
        c.textContent?.startsWith('api_key.'),
      ),
    );
    expect(search()).to.deep.equal({ action: 'api_key.' });
    // Who: the operator (typed, then Enter).
    await page.getByLabel('Who').fill('operator');
    await page.getByLabel('Who').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr[data-entry-id]').length === 1);
    expect(await rows().first().textContent())
      .to.include('Operator')
      .and.include('api_key.create');
    expect(search()).to.deep.equal({ action: 'api_key.', actor: 'operator' });
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr[data-entry-id]').length === 1);
    expect(await page.getByLabel('Action').inputValue()).to.equal('api_key.');
    expect(await page.getByLabel('Who').inputValue()).to.equal('operator');

    // The CSV link carries the filters (and the session's binding): the same one entry.
    const href = (await page.getByRole('link', { name: /Download CSV/ }).getAttribute('href'))!;
    const params = new URL(href, suite.sys.url).searchParams;
    expect(new URL(href, suite.sys.url).pathname).to.equal('/v1/audit.csv');
    expect(params.get('action')).to.equal('api_key.');
    expect(params.get('actor')).to.equal('operator');
    expect(params.get('session_binding')).to.be.a('string');
    const csv = await page.evaluate(async (url) => {
      const res = await fetch(url);
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    }, href);
    expect(csv.status).to.equal(200);
    expect(csv.type).to.include('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).to.match(/^id,at,reseller,action,actor_kind/);
    expect(lines).to.have.length(2);
    expect(lines[1]).to.include('api_key.create').and.include('operator');

    // A day after today: nothing; Clear filters shows everything again.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('From (UTC day)').fill(tomorrow);
    await page.getByRole('cell', { name: 'No entry matches these filters.' }).waitFor();
    expect(search().from).to.equal(tomorrow);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('table.audit tbody tr[data-entry-id]').length === n, texts.length);
    expect(search()).to.deep.equal({});
  });

  it("a job page's History link shows that job's entries only: its submit and its cancel", async () => {
    const { sys, losing, gaining } = suite;
    const domains = names('audit-job', 3);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, start_after_seconds: 3600 });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    const id: string = sub.body.id;
    expect((await asLosing('post', `/v1/jobs/${id}/cancel`, {})).status).to.equal(202);

    await page.goto(`${suite.sys.url}/console/queue/${id}`);
    await page.getByRole('link', { name: 'History of this job' }).click();
    await page.getByText('Only the history of').waitFor();
    expect(search()).to.deep.equal({ target: `bulk_job:${id}` });
    await page.waitForFunction(() => document.querySelectorAll('table.audit tbody tr[data-entry-id]').length === 2);
    const actions = await rows().locator('td:nth-child(2) code').allTextContents();
    expect(actions).to.deep.equal(['bulk_job.cancel', 'bulk_job.submit']);
    await expectAccessible(page, "a job's history");
    await screenshotBothWidths(page, 'audit-job-history');
  });

  it('pages of 50 in the URL: next, previous after a reload, back and forward', async () => {
    for (let i = 0; i < 55; i++) {
      const res = await asLosing('put', '/v1/push-settings/notification-email', { email: `ops${i}@audit.example` });
      expect(res.status).to.equal(200);
    }
    await page.goto(`${suite.sys.url}/console/audit?action=push_settings.`);
    await page.getByText('Showing entries 1–50, more on the next page.').waitFor();
    const first = await rows().first().getAttribute('data-entry-id');
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText(/^Showing entries 51–56\.$/).waitFor();
    expect(search().page).to.equal('2');
    expect(search().cursor).to.be.a('string');
    expect(search().action).to.equal('push_settings.');
    await expectAccessible(page, 'audit log, page 2');
    await screenshotBothWidths(page, 'audit-log-page-2');
    await page.reload();
    await page.getByText(/^Showing entries 51–56\.$/).waitFor();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Showing entries 1–50, more on the next page.').waitFor();
    expect(await rows().first().getAttribute('data-entry-id')).to.equal(first);
    await page.goBack();
    await page.getByText(/^Showing entries 51–56\.$/).waitFor();
  });
});
