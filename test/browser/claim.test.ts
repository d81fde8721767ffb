import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect } from 'chai';
import type { ParsedMail } from 'mailparser';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, SCREENSHOTS, WIDTHS } from '../helpers/console-browser';
import { importDomains, makeReseller, names, waitForJob, type TestReseller } from '../helpers/fixtures';
import { toText } from '../helpers/smtp';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';

/**
 * A released customer opens the claim link of their email in a browser (no sign-in;
 * the single-use token is the authority), sees what was released, chooses with a button, and gets
 * a clear result page; the link opened again, an expired link and a mangled one each get a page
 * that says what happened. At 1280 and 390 px, without sideways scrolling, axe-clean, under a CSP
 * that allows no script and no inline style but the page's own style sheet.
 *
 * Screenshots go to SHOTS_DIR (default test-artifacts/screenshots), as claim-<name>-<width>.png.
 */
describe('the claim page, walked by a released customer in Chromium', function () {
  this.timeout(180_000);
  const SHOTS = process.env.SHOTS_DIR ?? SCREENSHOTS;
  const TTL_SECONDS = 3600;
  // The system's clock runs this far ahead of the wall clock: moved past the TTL to expire a link.
  let ahead = 0;
  const RESELLER_NAME = 'Acme <b>Hosting</b> & Sons';
  const LONG_DOMAIN = `${'a'.repeat(44)}-very-long-label.example`;
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let acme: TestReseller;
  /** CSP refusals the browser reported (a blocked style or script): there must be none. */
  let cspRefusals: string[];

  before(async function () {
    this.timeout(240_000);
    sys = await startSystem({
      config: { CHUNK_SIZE: 50, CLAIM_TOKEN_TTL_SECONDS: TTL_SECONDS },
      clock: () => new Date(Date.now() + ahead),
    });
    acme = await makeReseller(sys, 'acme');
    const renamed = await sys
      .http()
      .patch('/v1/admin/resellers/acme')
      .set('Authorization', `Bearer ${OPERATOR_KEY}`)
      .send({ name: RESELLER_NAME });
    expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    browser = await launchChromium();
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await sys?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    page = await context.newPage();
    cspRefusals = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) cspRefusals.push(m.text());
    });
  });
  afterEach(async () => {
    expect(cspRefusals, 'CSP refusals in the browser console').to.deep.equal([]);
    await context?.close();
  });

  const http = () => sys.http();
  const as = (who: TestReseller) => ({ Authorization: `Bearer ${who.key}` });

  /** A customer of acme with domains and a package, released; resolves to the link of their claim email. */
  async function releasedCustomer(name: string, email: string, domains: string[], pkg?: string): Promise<string> {
    const c = await http().post('/v1/customers').set(as(acme)).send({ name, email });
    expect(c.status, JSON.stringify(c.body)).to.equal(201);
    await importDomains(
      sys,
      domains.map((d) => ({ name: d, reseller: 'acme', customer: c.body.id })),
    );
    if (pkg) {
      const p = await http().post(`/v1/customers/${c.body.id}/packages`).set(as(acme)).send({ name: pkg });
      expect(p.status, JSON.stringify(p.body)).to.equal(201);
      const added = await http()
        .post(`/v1/customers/${c.body.id}/packages/${p.body.id}/domains`)
        .set(as(acme))
        .send({ domain: domains[0] });
      expect(added.status, JSON.stringify(added.body)).to.equal(201);
    }
    const r = await http().post(`/v1/customers/${c.body.id}/release`).set(as(acme));
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    expect((await waitForJob(sys, acme, r.body.id)).status).to.equal('completed');
    const mail = await sys.smtp.waitFor(
      (m) => toText(m).toLowerCase() === email.toLowerCase() && (m.subject ?? '').includes('Claim your account'),
    );
    return claimLinkOf(mail);
  }

  /** The link as the customer sees it: the email's button, the same address as in the text part. */
  function claimLinkOf(mail: ParsedMail): string {
    const href = String(mail.html).match(/<a href="([^"]+)" data-claim-link/)?.[1];
    expect(href, 'the claim button of the HTML part').to.be.a('string');
    expect(mail.text).to.include('open this link in your browser').and.include(href!).and.not.include('POST');
    // The link names this test system's port only through PUBLIC_URL; the path is what matters here.
    return sys.url + new URL(href!).pathname;
  }

  async function expectAxeClean(label: string) {
    const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
    const problems = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
    expect(problems, `${label}: accessibility violations`).to.deep.equal([]);
  }

  /** Screenshots at 1280 and 390 px, each checked for sideways scrolling; the viewport is left as it was. */
  async function shoot(name: string) {
    const before = page.viewportSize()!;
    for (const width of [WIDTHS.wide, WIDTHS.narrow]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForFunction((w) => document.documentElement.clientWidth === w, width);
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
      }));
      expect(scrollWidth, `${name} scrolls sideways at ${width} px (${scrollWidth} > ${clientWidth})`).to.be.at.most(clientWidth);
      await page.screenshot({ path: path.join(SHOTS, `claim-${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize(before);
  }

  /** The account a customer claimed (email and mode), or undefined. */
  const accountOf = (customer: string) =>
    sys.db('customer_accounts as a').join('customers as c', 'c.id', 'a.customer_id').where('c.name', customer).first('a.email', 'a.mode');

  const heading = () => page.getByRole('heading', { level: 1 }).textContent();

  it('the link opens a page with what was released and the two choices; a program at the same address still gets JSON', async () => {
    const link = await releasedCustomer('Ann <img src=x> & Co', 'ann@customer.example', [...names('ann', 3), LONG_DOMAIN], 'Web & Mail');
    const res = await page.goto(link);
    expect(res!.status()).to.equal(200);
    const headers = res!.headers();
    expect(headers['content-security-policy'])
      .to.include("default-src 'none'")
      .and.include("frame-ancestors 'none'")
      .and.include("form-action 'self'");
    expect(headers['content-security-policy']).to.not.include('unsafe-inline').and.not.include('script-src');
    expect(headers).to.include({ 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' });
    expect(headers.vary).to.match(/Accept/i);

    expect(await page.title()).to.equal('Claim your account · domain-push');
    expect(await page.locator('html').getAttribute('lang')).to.equal('en');
    expect(await heading()).to.equal('Claim your account');
    // What people typed is shown as text, never markup.
    const main = (await page.locator('main').textContent())!;
    expect(main).to.include('Hello Ann <img src=x> & Co,').and.include(`${RESELLER_NAME} has released you as a customer`);
    expect(await page.locator('main img, main b').count()).to.equal(0);
    expect(main).to.include('4 domains and 1 service package.');
    const domains = await page
      .getByRole('list', { name: /Domains/ })
      .getByRole('listitem')
      .allTextContents();
    expect(domains).to.deep.equal([...names('ann', 3), LONG_DOMAIN].sort());
    expect(
      await page
        .getByRole('list', { name: /Service packages/ })
        .getByRole('listitem')
        .allTextContents(),
    ).to.deep.equal(['Web & Mail']);
    expect(await page.getByRole('button', { name: 'Create a new account' }).isVisible()).to.equal(true);
    expect(await page.getByRole('button', { name: 'Import into my account' }).isVisible()).to.equal(true);
    expect(await page.getByLabel('Email of your existing account').getAttribute('type')).to.equal('email');
    await expectAxeClean('claim page');
    await shoot('page');

    // Opening the page used nothing: a program reads the same link as JSON, as before.
    const json = await http().get(new URL(link).pathname).set('Accept', 'application/json');
    expect(json.status).to.equal(200);
    expect(json.body).to.include.keys('customer', 'products', 'expires_at', 'choices');
    expect(json.body.products).to.deep.equal({ domains: 4, packages: 1 });
    expect((await http().get(new URL(link).pathname)).type, 'no Accept header: JSON').to.equal('application/json');
  });

  it('an import with another email is refused next to the field, the link still works, and the new account is then created at 390 px', async () => {
    const link = await releasedCustomer('Bea', 'bea@customer.example', names('bea', 2));
    await page.setViewportSize({ width: WIDTHS.narrow, height: 900 });
    await page.goto(link);
    await page.getByLabel('Email of your existing account').fill('someone@else.example');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Import into my account' }).click(),
    ]);
    expect(refused.status()).to.equal(422);
    await page.waitForLoadState('load');
    expect(await page.title()).to.equal('Error: claim your account · domain-push');
    const field = page.getByLabel('Email of your existing account');
    expect(await field.inputValue()).to.equal('someone@else.example');
    expect(await field.getAttribute('aria-invalid')).to.equal('true');
    const describedBy = (await field.getAttribute('aria-describedby'))!.split(' ');
    expect(describedBy).to.include('import-email-error');
    expect(await page.locator('#import-email-error').textContent()).to.include('not the email on file for you (bea@customer.example)');
    expect(await page.evaluate(() => document.activeElement?.id), 'focus on the field in error').to.equal('import-email');
    expect(await accountOf('Bea')).to.equal(undefined);
    await expectAxeClean('claim page with an error');
    await shoot('import-refused');

    const [created] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Create a new account' }).click(),
    ]);
    expect(created.status()).to.equal(201);
    await page.waitForLoadState('load');
    expect(await heading()).to.equal('Your account is ready');
    const main = (await page.locator('main').textContent())!;
    expect(main)
      .to.include('Your new account was created.')
      .and.include('2 domains and 0 service packages are now in the account for bea@customer.example');
    expect(main).to.include('This link has now been used');
    expect(await accountOf('Bea')).to.deep.equal({ email: 'bea@customer.example', mode: 'new_account' });
    await expectAxeClean('result page');
    await shoot('done-new-account');

    // The same link again (a reload, the email opened later): the used-link page, and nothing more is created.
    const again = await page.goto(link);
    expect(again!.status()).to.equal(410);
    expect(await heading()).to.equal('This link has already been used');
    expect(await page.locator('form').count()).to.equal(0);
    await expectAxeClean('used-link page');
    await shoot('used');
    const accounts = await sys
      .db('customer_accounts as a')
      .join('customers as c', 'c.id', 'a.customer_id')
      .where('c.name', 'Bea')
      .select('a.id');
    expect(accounts).to.have.length(1);
  });

  it('an import with the email on file links the existing account', async () => {
    const link = await releasedCustomer('Cid', 'Cid@Customer.example', names('cid', 1));
    await page.goto(link);
    await page.getByLabel('Email of your existing account').fill('cid@customer.example');
    await page.getByLabel('Email of your existing account').press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Your account is ready' }).waitFor();
    expect(await page.locator('main').textContent()).to.include('Your products were imported into your existing account.');
    expect(await accountOf('Cid')).to.deep.equal({ email: 'cid@customer.example', mode: 'import' });
    await shoot('done-import');
  });

  it('a form sent without a choice, or an import without an email, is a page that says what to do', async () => {
    const link = await releasedCustomer('Dee', 'dee@customer.example', names('dee', 1));
    const path = new URL(link).pathname;
    const none = await http().post(path).type('form').set('Accept', 'text/html').send('');
    expect(none.status).to.equal(400);
    expect(none.type).to.equal('text/html');
    expect(none.text).to.include('role="alert"').and.include('Choose one of the two ways below');
    const empty = await http().post(path).type('form').send({ choice: 'import', email: '  ' });
    expect(empty.status).to.equal(400);
    expect(empty.text).to.include('Enter the email of your existing account.');
    expect(await accountOf('Dee')).to.equal(undefined);
  });

  it('a mangled link is a "not valid" page (404); an expired one is the expired page (410), and nothing is created', async () => {
    const res = await page.goto(`${sys.url}/v1/claims/claim_not-a-real-token`);
    expect(res!.status()).to.equal(404);
    expect(await heading()).to.equal('This link is not valid');
    await expectAxeClean('unknown-link page');
    await shoot('unknown');

    const link = await releasedCustomer('Eve', 'eve@customer.example', names('eve', 1));
    ahead += (TTL_SECONDS + 1) * 1000;
    const expired = await page.goto(link);
    expect(expired!.status()).to.equal(410);
    expect(await heading()).to.equal('This link has expired');
    expect(await page.locator('main').textContent()).to.include('contact the platform support');
    await expectAxeClean('expired-link page');
    await shoot('expired');
    const posted = await http().post(new URL(link).pathname).type('form').send({ choice: 'new_account' });
    expect(posted.status).to.equal(410);
    expect(posted.text).to.include('This link has expired');
    expect(await accountOf('Eve')).to.equal(undefined);
  });
});
