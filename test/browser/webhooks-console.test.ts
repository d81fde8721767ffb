import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { createLogger } from '../../shared/platform/logger';
import { relayWebhooks } from '../../shared/webhooks/relay';
import {
  type ConsoleSuite,
  expectAccessible,
  screenshotBothWidths,
  signIn,
  startConsoleSuite,
  stopConsoleSuite,
  WIDTHS,
} from '../helpers/console-browser';
import { waitUntil } from '../helpers/wait';
import { type Receiver, startReceiver } from '../integration/webhooks-receiver';

const log = createLogger('silent', { role: 'test-webhooks-console' });

/**
 * Issue 21's "Webhooks" console page in real Chromium against the real API, walked as a reseller:
 * add an endpoint (refusals by their field, nothing created), copy its secret shown once, get a
 * signed event at a real receiver, read the delivery log (a 500 with its response code, duration
 * and next retry), redeliver it, filter the log in the URL, disable, enable and delete after a
 * confirmation. Deliveries are made by the relay every worker runs (relayWebhooks), in-process.
 */
describe('console: Webhooks (browser)', function () {
  this.timeout(120_000);
  let suite: ConsoleSuite;
  let context: BrowserContext;
  let page: Page;
  let rx: Receiver;
  let failing = false;
  let stopRelay: (() => Promise<void>) | undefined;

  before(async function () {
    this.timeout(240_000);
    suite = await startConsoleSuite('console-hooks', { worker: false });
    rx = await startReceiver(() => ({ status: failing ? 500 : 200 }));
    context = await suite.browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.sys.url });
    page = await context.newPage();
  });
  after(async () => {
    await stopRelay?.();
    await context?.close();
    await rx?.close();
    await stopConsoleSuite(suite);
  });

  /** The relay as a worker runs it; a failed try waits long (10 min base) so its "next retry" stays on the page. */
  function relay() {
    const config = { ...suite.sys.config, WEBHOOK_TIMEOUT_MS: 2_000, WEBHOOK_RETRY_BASE_MS: 600_000, WEBHOOK_RATE_PER_SECOND: 1000 };
    let stopped = false;
    const done = (async () => {
      while (!stopped) {
        await relayWebhooks({ db: suite.sys.db, config, log });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    stopRelay = async () => {
      stopped = true;
      await done;
      stopRelay = undefined;
    };
  }

  const endpointRows = () => page.getByRole('table', { name: 'Your webhook endpoints' }).locator('tbody tr');
  const deliveryRows = () => page.getByRole('table', { name: 'Deliveries to this endpoint, newest first' }).locator('tbody tr');
  const endpoints = async () => Number((await suite.sys.db('webhook_endpoints').count('* as n'))[0].n);
  const newKey = async (label: string) =>
    expect(
      (await suite.sys.http().post('/v1/api-keys').set('Authorization', `Bearer ${suite.losing.key}`).send({ label })).status,
    ).to.equal(201);

  it('adds an endpoint (refusals said by their field), shows its secret once, and the receiver verifies a signed event', async () => {
    await signIn(page, suite.sys, suite.losing, '/console/domains');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await endpointRows().getByText('No endpoint yet').waitFor();
    await expectAccessible(page, 'webhooks, empty');

    // No event chosen: said by the events, nothing sent.
    await page.getByLabel('URL').fill(rx.url);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose at least one event.' }).waitFor();
    expect(await endpoints()).to.equal(0);

    // A private address: the API's refusal by the URL field, nothing created.
    await page.getByLabel('URL').fill('https://10.0.0.1/hook');
    await page.getByRole('checkbox', { name: /api_key\.created/ }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const urlError = page.locator('.field', { has: page.getByLabel('URL') }).getByRole('alert');
    await urlError.waitFor();
    expect(await urlError.textContent()).to.match(/private|loopback|address/i);
    expect(await page.getByLabel('URL').getAttribute('aria-invalid')).to.equal('true');
    expect(await endpoints()).to.equal(0);

    // The receiver's address, two events: the secret is shown once, with a copy button.
    await page.getByLabel('URL').fill(rx.url);
    await page.getByLabel('Description (optional)').fill('CRM');
    await page.getByRole('checkbox', { name: /api_key\.revoked/ }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const panel = page.getByRole('region', { name: `Signing secret of ${rx.url}` });
    await panel.getByText('This is the only time the secret is shown: you will not see it again.').waitFor();
    const secret = ((await page.locator('#new-webhook-secret').textContent()) ?? '').trim();
    expect(secret).to.match(/^whsec_/);
    await panel.getByRole('button', { name: 'Copy secret' }).click();
    await panel.getByText('Copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(secret);
    await endpointRows().filter({ hasText: rx.url }).waitFor();
    await expectAccessible(page, 'webhooks with a new secret');
    await screenshotBothWidths(page, 'webhooks-secret');

    await page.getByRole('button', { name: 'Done, hide the secret' }).click();
    await panel.waitFor({ state: 'hidden' });
    expect(await page.content()).to.not.include(secret);
    const row = endpointRows().filter({ hasText: rx.url });
    expect(await row.textContent())
      .to.include('CRM')
      .and.include('enabled')
      .and.include(`${secret.slice(0, 8)}`);
    const stored = await suite.sys.db('webhook_endpoints').first('url', 'event_types', 'enabled');
    expect(stored).to.deep.include({ url: rx.url, enabled: true });

    // An event of the account reaches the receiver, signed with the copied secret.
    rx.secret = secret;
    relay();
    await newKey('hooked');
    const got = await waitUntil(() => rx.received.find((r) => r.type === 'api_key.created'), { label: 'api_key.created delivered' });
    expect(got.verified, 'the signature verifies with the secret the page showed').to.equal(true);
    await screenshotBothWidths(page, 'webhooks-list');
  });

  it('the delivery log shows a failed try (code, duration, next retry); Redeliver sends it again; the filter lives in the URL', async () => {
    const ep = await suite.sys.db('webhook_endpoints').first('id');
    // The receiver answers 500: the delivery waits for its retry, which the page shows.
    failing = true;
    const before = rx.received.length;
    await newKey('failing');
    const failed = await waitUntil(() => rx.received.slice(before).find((r) => r.type === 'api_key.created'), {
      label: 'a try that gets 500',
    });
    await waitUntil(
      async () => (await suite.sys.db('webhook_deliveries').where({ status: 'pending' }).whereNotNull('last_attempt_at').first()) ?? null,
      {
        label: 'the failed try recorded',
      },
    );
    await stopRelay?.();

    await page.getByRole('link', { name: `Delivery log of ${rx.url}` }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(rx.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }).waitFor();
    expect(new URL(page.url()).pathname).to.equal(`/console/webhooks/${ep.id}`);
    const failedRow = deliveryRows().filter({ hasText: failed.id });
    await failedRow.waitFor();
    const cells = await failedRow.locator('td').allTextContents();
    expect(cells[1]).to.include('pending');
    expect(cells[2]).to.include('500');
    expect(cells[3]).to.match(/^\d+ ms$/);
    expect(cells[4]).to.equal('1');
    expect(cells[5]).to.not.equal('—'); // the next retry, a date
    expect(await deliveryRows().filter({ hasText: 'delivered' }).count()).to.equal(1);
    await expectAccessible(page, 'delivery log with a failed try');
    await screenshotBothWidths(page, 'webhooks-log-failed');

    // Redeliver: the same event again, now answered 200.
    failing = false;
    relay();
    const asked = page.waitForResponse((r) => r.url().includes('/redeliver') && r.request().method() === 'POST');
    await failedRow.getByRole('button', { name: `Redeliver api_key.created ${failed.id}` }).click();
    expect((await asked).status()).to.equal(202);
    await page.getByRole('status').filter({ hasText: 'is queued again' }).waitFor();
    await failedRow.getByText('delivered').waitFor({ timeout: 30_000 });
    const copies = rx.received.filter((r) => r.id === failed.id);
    expect(copies.length, 'the same event id, sent again').to.be.at.least(2);
    expect(copies.at(-1)?.verified).to.equal(true);

    // Filter by status: in the URL, kept by a reload.
    await page.getByLabel('Show deliveries').selectOption('failed');
    await deliveryRows().getByText('No delivery with this status.').waitFor();
    expect(new URL(page.url()).searchParams.get('status')).to.equal('failed');
    await page.getByLabel('Show deliveries').selectOption('delivered');
    await page.waitForFunction(() => document.querySelectorAll('table.deliveries tbody tr[data-delivery-id]').length === 2);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('table.deliveries tbody tr[data-delivery-id]').length === 2);
    expect(await page.getByLabel('Show deliveries').inputValue()).to.equal('delivered');
    await screenshotBothWidths(page, 'webhooks-log');
  });

  it('disable and enable from its page; delete after a confirmation naming it (Keep changes nothing)', async () => {
    const title = page.getByRole('heading', { level: 1 });
    await page.getByRole('button', { name: 'Disable' }).click();
    await title.getByText('disabled').waitFor();
    await page.getByText('The endpoint is disabled: enable it to send a delivery again.').waitFor();
    expect(
      await deliveryRows()
        .first()
        .getByRole('button', { name: /^Redeliver/ })
        .isDisabled(),
    ).to.equal(true);
    expect((await suite.sys.db('webhook_endpoints').first('enabled')).enabled).to.equal(false);
    await page.getByRole('button', { name: 'Enable' }).click();
    await title.getByText('enabled').waitFor();
    expect((await suite.sys.db('webhook_endpoints').first('enabled')).enabled).to.equal(true);

    await page.getByRole('link', { name: '← Webhooks' }).click();
    await page.getByRole('button', { name: `Delete ${rx.url}` }).click();
    const dialog = page.getByRole('dialog', { name: `Delete the endpoint ${rx.url}?` });
    await dialog.getByText('its delivery log goes with it').waitFor();
    await expectAccessible(page, 'delete endpoint dialog');
    await screenshotBothWidths(page, 'webhooks-delete', { fullPage: false });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await endpoints()).to.equal(1);
    await page.getByRole('button', { name: `Delete ${rx.url}` }).click();
    await dialog.getByRole('button', { name: 'Keep endpoint' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await endpoints()).to.equal(1);
    await page.getByRole('button', { name: `Delete ${rx.url}` }).click();
    await dialog.getByRole('button', { name: 'Delete endpoint' }).click();
    await endpointRows().getByText('No endpoint yet').waitFor();
    expect(await endpoints()).to.equal(0);
    expect(Number((await suite.sys.db('webhook_deliveries').count('* as n'))[0].n)).to.equal(0);
  });
});
