import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { launchChromium, screenshotBothWidths, WIDTHS } from '../helpers/console-browser';
import { authorize, importDomains, makeReseller, names, submit, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * The Domains page keeps its search, its Locked filter and its page in the URL: a reload shows
 * the same view (page 2 included, "Previous page" still working), and the back button returns to
 * the previous page and then to the previous filter.
 */
describe('console URL state (browser): Domains filters and pages, queue pages survive a reload and back/forward', function () {
  this.timeout(180_000);
  let sys: TestSystem;
  let browser: Browser;
  let page: Page;
  let reseller: TestReseller;
  // 60 locked and 60 unlocked "cuv-a" domains (two pages of 50 each), and 5 others.
  const lockedA = names('cuv-a-locked', 60);
  const openA = names('cuv-a-open', 60);

  before(async function () {
    this.timeout(240_000);
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem({ config: { MAX_OPEN_JOBS_PER_RESELLER: 40 } });
    reseller = await makeReseller(sys, 'cuv-reseller');
    await importDomains(sys, [
      ...lockedA.map((name) => ({ name, reseller: reseller.username, locked: true })),
      ...openA.map((name) => ({ name, reseller: reseller.username })),
      ...names('cuv-b', 5).map((name) => ({ name, reseller: reseller.username })),
    ]);
    // 27 jobs waiting an hour to start (nothing moves): two pages of the queue (25 a page).
    const gaining = await makeReseller(sys, 'cuv-gaining');
    await authorize(sys, gaining, reseller);
    for (const name of names('cuv-b', 5).concat(openA.slice(0, 22))) {
      const res = await submit(sys, reseller, { gaining_reseller: gaining.username, domains: [name], start_after_seconds: 3600 });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
    }
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } })).newPage();
    await page.goto(`${sys.url}/console/domains`);
    await page.getByLabel('API key').fill(reseller.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${reseller.username}`).waitFor();
  });
  after(async () => {
    await browser?.close();
    await sys?.stop();
  });

  const pager = () => page.getByRole('navigation', { name: 'Domain pages' });
  const firstDomain = () => page.locator('tbody tr td:nth-child(2)').first();
  const query = () => Object.fromEntries(new URL(page.url()).searchParams);

  it('a search, a filter and page 2 are in the URL; reload shows them; back returns page 1, then the previous filter', async () => {
    await pager().getByText('1–50 of 125').waitFor();

    await page.getByLabel('Search domains', { exact: true }).fill('cuv-a');
    await pager().getByText('1–50 of 120').waitFor();
    await page.waitForURL((u) => u.searchParams.get('q') === 'cuv-a');

    await page.getByLabel('Locked', { exact: true }).selectOption('true');
    await pager().getByText('1–50 of 60').waitFor();
    expect(query()).to.deep.equal({ q: 'cuv-a', locked: 'true' });
    expect(await firstDomain().textContent()).to.equal(lockedA[0]);

    await pager().getByRole('button', { name: 'Next page' }).click();
    await pager().getByText('51–60 of 60').waitFor();
    expect(query()).to.include({ q: 'cuv-a', locked: 'true', page: '2' }).and.have.property('cursor');
    expect(await firstDomain().textContent()).to.equal(lockedA[50]);
    await screenshotBothWidths(page, 'url-domains-page-2');

    // Reload: the same view, the controls showing the filter, and "Previous page" still works.
    await page.reload();
    await pager().getByText('51–60 of 60').waitFor();
    expect(await firstDomain().textContent()).to.equal(lockedA[50]);
    expect(await page.getByLabel('Search domains', { exact: true }).inputValue()).to.equal('cuv-a');
    expect(await page.getByLabel('Locked', { exact: true }).inputValue()).to.equal('true');
    await pager().getByRole('button', { name: 'Previous page' }).click();
    await pager().getByText('1–50 of 60').waitFor();
    expect(query()).to.deep.equal({ q: 'cuv-a', locked: 'true' });

    // Back: page 2 again, then page 1 of the same filter, then the filter before it (the search alone), then none.
    await page.goBack();
    await pager().getByText('51–60 of 60').waitFor();
    expect(await firstDomain().textContent()).to.equal(lockedA[50]);
    await page.goBack();
    await pager().getByText('1–50 of 60').waitFor();
    expect(query()).to.deep.equal({ q: 'cuv-a', locked: 'true' });
    await page.goBack();
    await pager().getByText('1–50 of 120').waitFor();
    expect(query()).to.deep.equal({ q: 'cuv-a' });
    expect(await page.getByLabel('Locked', { exact: true }).inputValue()).to.equal('');
    expect(await page.getByLabel('Search domains', { exact: true }).inputValue()).to.equal('cuv-a');
    await page.goBack();
    await pager().getByText('1–50 of 125').waitFor();
    expect(query()).to.deep.equal({});
    expect(await page.getByLabel('Search domains', { exact: true }).inputValue()).to.equal('');

    // Forward again: the filter comes back.
    await page.goForward();
    await pager().getByText('1–50 of 120').waitFor();
    expect(await page.getByLabel('Search domains', { exact: true }).inputValue()).to.equal('cuv-a');
    await screenshotBothWidths(page, 'url-domains-search');
  });

  it('the queue keeps how many pages it shows in the URL: a reload shows as many, back shows one', async () => {
    await page.goto(`${sys.url}/console/queue`);
    const rows = page.locator('table.jobs tbody tr');
    await page.getByRole('button', { name: 'Show older jobs' }).waitFor();
    expect(await rows.count()).to.equal(25);
    await page.getByRole('button', { name: 'Show older jobs' }).click();
    await page.waitForURL((u) => u.searchParams.get('pages') === '2');
    await page.locator('table.jobs tbody tr:nth-child(27)').waitFor();
    expect(await rows.count()).to.equal(27);

    await page.reload();
    await page.locator('table.jobs tbody tr:nth-child(27)').waitFor();
    expect(await rows.count()).to.equal(27);
    expect(await page.getByRole('button', { name: 'Show older jobs' }).count()).to.equal(0);

    await page.goBack();
    await page.waitForURL((u) => !u.searchParams.has('pages'));
    await page.getByRole('button', { name: 'Show older jobs' }).waitFor();
    expect(await rows.count()).to.equal(25);
  });
});
