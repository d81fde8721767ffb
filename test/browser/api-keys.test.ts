import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { expectAccessible, launchChromium, screenshotBothWidths } from '../helpers/console-browser';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/** The console's "API keys" page in real Chromium against the real API (issue 17 #9). */
describe('console: API keys (browser)', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let me: TestReseller;
  let laptop: { id: string; api_key: string; prefix: string };

  before(async function () {
    this.timeout(240_000);
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem({ worker: false });
    me = await makeReseller(sys, 'console-keys', { push: false });
    const res = await sys.http().post('/v1/api-keys').set('Authorization', `Bearer ${me.key}`).send({ label: 'old laptop' });
    expect(res.status).to.equal(201);
    laptop = res.body;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sys.url });
    page = await context.newPage();
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await sys?.stop();
  });

  const status = async (key: string) => (await sys.http().get('/v1/me').set('Authorization', `Bearer ${key}`)).status;

  it('creates a key shown once with a copy button, then hidden; revokes another after a confirmation naming it', async () => {
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').fill(me.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${me.username}`).waitFor();
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();

    const rows = page.locator('tbody tr');
    // The heading shows before the list has loaded: wait for its rows, then count them.
    await rows.nth(1).waitFor();
    expect(await rows.count()).to.equal(2);
    expect(await rows.nth(0).textContent()).to.include(`${me.key.slice(0, 8)}…`);
    expect(await rows.nth(0).textContent()).to.include("this session's key");
    expect(await rows.nth(1).textContent()).to.include('old laptop');

    // Create: the key is on the page once, copyable, and works at once.
    await page.getByLabel('Label (optional)').fill('CI deploys');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.locator('#new-api-key');
    await shown.waitFor();
    const key = ((await shown.textContent()) ?? '').trim();
    expect(key).to.match(/^dpk_[A-Za-z0-9_-]{43}$/);
    await page.getByRole('region', { name: 'Your new key: CI deploys' }).getByText('This is the only time the key is shown.').waitFor();
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByText('Copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(key);
    expect(await status(key)).to.equal(200);
    await expectAccessible(page, 'api keys with a new key');
    await screenshotBothWidths(page, 'api-keys-created');

    await page.getByRole('button', { name: 'Done, hide the key' }).click();
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    expect(await page.content()).to.not.include(key);
    await page.locator('tbody tr', { hasText: 'CI deploys' }).waitFor();
    expect(await page.locator('tbody tr', { hasText: 'CI deploys' }).textContent()).to.include(`${key.slice(0, 8)}…`);
    expect(await page.content()).to.not.include(me.key);
    expect(await page.content()).to.not.include(laptop.api_key);

    // Revoke the laptop key: a review step names it first; "Keep key" changes nothing.
    const revokeLaptop = page.getByRole('button', { name: `Revoke ${laptop.prefix}… (old laptop)` });
    await revokeLaptop.click();
    const dialog = page.getByRole('dialog', { name: `Revoke key ${laptop.prefix}… (old laptop)?` });
    await dialog.waitFor();
    await dialog.getByText('It stops working at once').waitFor();
    await page.getByRole('button', { name: 'Keep key' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await status(laptop.api_key)).to.equal(200);

    await revokeLaptop.click();
    await dialog.waitFor();
    await expectAccessible(page, 'api keys revoke dialog');
    await screenshotBothWidths(page, 'api-keys-revoke');
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page
      .locator('tbody tr', { hasText: 'old laptop' })
      .getByText(/^revoked/)
      .waitFor();
    expect(await status(laptop.api_key)).to.equal(401);
    expect(await status(key)).to.equal(200);
    expect((await sys.db('api_keys').where({ id: laptop.id }).first('revoked_via')).revoked_via).to.equal('reseller');
    await screenshotBothWidths(page, 'api-keys-list');
  });
});
