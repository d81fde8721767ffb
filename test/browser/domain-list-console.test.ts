import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { launchChromium, WIDTHS } from '../helpers/console-browser';
import { allItems, authorize, importDomains, makeReseller, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The console's list parser is the shared one, bundled: in Chromium, a pasted list with bad lines
 * is refused before any request with the very sentence the API says (lines, never "#8"), and
 * "Skip invalid entries" sends the text with skip_invalid, so the job lists the skipped lines.
 */
describe('domain list in the console (browser): the bundled parser, lines and skip invalid', function () {
  this.timeout(180_000);
  let sys: TestSystem;
  let browser: Browser;
  let page: Page;
  let losing: TestReseller;
  const bodies: Record<string, unknown>[] = [];
  const list = 'dlc-1.example\nfoo..bar\ndlc-2.example, nodot\n';

  before(async function () {
    this.timeout(240_000);
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem();
    losing = await makeReseller(sys, 'dlc-losing');
    const gaining = await makeReseller(sys, 'dlc-gaining');
    await authorize(sys, gaining, losing);
    await importDomains(sys, [
      { name: 'dlc-1.example', reseller: 'dlc-losing' },
      { name: 'dlc-2.example', reseller: 'dlc-losing' },
    ]);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } })).newPage();
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/bulk-pushes') bodies.push(r.postDataJSON());
    });
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').fill(losing.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${losing.username}`).waitFor();
  });
  after(async () => {
    await browser?.close();
    await sys?.stop();
  });

  it('refuses a list with bad lines before any request, in the API’s words; skipping them moves the rest', async () => {
    // What the API answers for the same text, to hold the console's sentence to.
    const api = await submit(sys, losing, { gaining_reseller: 'dlc-gaining', domain_list: list, dry_run: true });
    expect(api.status).to.equal(400);

    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    await page.getByRole('heading', { name: 'Move to another reseller' }).waitFor();
    const textarea = page.getByLabel('Domain list');
    await textarea.fill(list);
    await page.getByLabel("Gaining reseller's username").fill('dlc-gaining');
    await page.getByRole('button', { name: 'Move domain' }).click();
    const sentence = `${api.body.error.message} Correct them, or skip invalid entries.`;
    expect(sentence).to.include('line 2: "foo..bar"').and.include('line 3: "nodot"');
    await page.getByText(sentence).waitFor();
    expect(await textarea.getAttribute('aria-invalid')).to.equal('true');
    expect(bodies).to.deep.equal([]);

    await page.getByLabel('Skip invalid entries').check();
    await page.getByLabel('When to start').selectOption('0');
    await page.getByRole('button', { name: 'Move domain' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(bodies[0]).to.include({ domain_list: list, skip_invalid: true, dry_run: true });
    await dialog.getByRole('button', { name: /^Move 4 domain/ }).click();
    await page.waitForURL(/\/console\/queue/);
    const submitted = bodies.find((b) => b.dry_run === false)!;
    expect(submitted).to.include({ domain_list: list, skip_invalid: true });

    const job = (await sys.db('bulk_jobs').where({ losing_reseller_id: losing.id }).orderBy('created_at', 'desc').first('id'))!;
    expect((await waitForJob(sys, losing, job.id)).counts).to.deep.include({ pushed: 2, skipped: 2 });
    const items = await allItems(sys, losing, job.id);
    expect(items.filter((i) => i.reason === 'invalid_domain').map((i) => i.message!.split(':')[0])).to.deep.equal(['line 2', 'line 3']);
  });
});
