import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { z } from 'zod';
import { createApp } from '../../api/app';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { createBulkJob } from '../../shared/bulk/create';
import { baseOptions, type BulkKindDef, kindTable } from '../../shared/bulk/kind';
import { KINDS } from '../../shared/kinds';
import { type CliTarget, runCli, show } from '../helpers/cli-run';
import { expectAccessible, launchChromium, SCREENSHOTS, WIDTHS } from '../helpers/console-browser';
import { makeReseller, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * A kind the console and the CLI have never heard of. Its words (title, units, done status, the
 * options in words, its reason codes) exist only in its definition: the job page, the queue and
 * `domain-push status`/`jobs` show them as the API hands them out, with no edit to console/ or cli/.
 */
const ledgerOptions = baseOptions.extend({ retention_days: z.number().int() });

const ledgerKind: BulkKindDef<z.infer<typeof ledgerOptions>> = {
  name: 'ledger',
  jobName: 'ledger-chunk',
  doneStatus: 'filed',
  reasons: { stale: 'Older than the ledger keeps' },
  options: ledgerOptions,
  handler: { inTake: async () => ({ deferred: [], counts: {} }) },
  path: '/v1/jobs',
  resultsTitle: () => 'Ledger filing',
  labels: {
    noun: 'Ledger filing',
    unit: 'record',
    units: 'records',
    title: (p, side) => (side === 'sent' ? `Filing for ${p.losing}` : `Filed by ${p.losing}`),
    details: (o) => [{ label: 'Retention', value: `${o.retention_days} days` }],
  },
};

/**
 * Screenshots go to SHOTS_DIR (default test-artifacts/screenshots), as kind-<name>-<width>.png.
 */
describe('a job of a kind the console and the CLI do not know (browser, CLI)', function () {
  this.timeout(120_000);
  const SHOTS = process.env.SHOTS_DIR ?? SCREENSHOTS;
  let sys: TestSystem;
  let server: Server;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let me: TestReseller;
  let jobId: string;
  const records = ['a.example', 'b.example', 'c.example', 'd.example', 'e.example'];

  before(async function () {
    this.timeout(240_000);
    await ensureConsoleBuilt({ quiet: true });
    sys = await startSystem({ worker: false });
    // The real app, with the kind in its table: only the table knows it.
    const deps = { ...sys.rt.deps, kinds: kindTable([...Object.values(KINDS), ledgerKind]) };
    server = createApp(deps).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    me = await makeReseller(sys, 'kind-filer', { push: false });
    // Scheduled an hour ahead (nothing runs it): three records pending, one filed and one skipped at submit.
    const job = await createBulkJob(deps, ledgerKind, {
      losingResellerId: me.id,
      gainingResellerId: null,
      options: { email_results_to: null, retention_days: 30 },
      itemNames: records.slice(0, 3),
      finishedItems: [
        { name: records[3], status: 'filed', reason: '', message: '' },
        { name: records[4], status: 'skipped', reason: 'stale', message: 'Older than 30 days.' },
      ],
      startAt: new Date(Date.now() + 3_600_000),
    });
    jobId = job.id;
    browser = await launchChromium();
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    if (server)
      await new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      });
    await sys?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  async function signIn(to: string) {
    await page.goto(url + to);
    await page.getByLabel('API key').fill(me.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${me.username}`).waitFor();
  }

  async function shoot(name: string) {
    for (const width of [WIDTHS.wide, WIDTHS.narrow]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForFunction((w) => document.documentElement.clientWidth === w, width);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} scrolls sideways at ${width}px`).to.be.at.most(0);
      await page.screenshot({ path: path.join(SHOTS, `kind-${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: WIDTHS.wide, height: 900 });
  }

  const option = async (dl: string, label: string) =>
    (
      await page
        .locator(`dl.${dl}`)
        .locator('div', { has: page.locator(`dt:text-is("${label}")`) })
        .locator('dd')
        .textContent()
    )?.trim();

  it('GET /v1/kinds lists the kind with its words, statuses and reasons', async () => {
    const res = await fetch(`${url}/v1/kinds`, { headers: { Authorization: `Bearer ${me.key}` } });
    expect(res.status).to.equal(200);
    const { items } = (await res.json()) as { items: { name: string; statuses: string[]; reasons: { code: string; text: string }[] }[] };
    const ledger = items.find((k) => k.name === 'ledger');
    expect(ledger).to.deep.include({ noun: 'Ledger filing', unit: 'record', units: 'records', done_status: 'filed' });
    expect(ledger?.statuses).to.deep.equal(['pending', 'running', 'filed', 'skipped', 'failed', 'cancelled']);
    expect(ledger?.reasons[0]).to.deep.equal({ code: 'stale', text: 'Older than the ledger keeps' });
    expect(ledger?.reasons.map((r) => r.code)).to.include('error');
  });

  it('the queue and the job page show its title, units, done status, options and reasons as the API words them', async () => {
    await signIn('/console/queue');
    const row = page.locator(`tr[data-job-id="${jobId}"]`);
    await row.getByText(`Filing for ${me.username}`).waitFor();
    expect(await row.textContent()).to.include('5 records');
    await expectAccessible(page, 'queue with a job of another kind');
    await shoot('queue');

    await row.getByRole('link', { name: /View details/ }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`^Filing for ${me.username}`) }).waitFor();
    expect(await option('facts', 'Records')).to.equal('5');
    expect(await option('options', 'Retention')).to.equal('30 days');
    expect(await option('options', 'Results email')).to.equal('No email');
    expect(await page.locator('.legend').textContent())
      .to.include('filed 1')
      .and.not.include('pushed')
      .and.not.include('released');
    expect(await page.getByRole('columnheader', { name: 'Record', exact: true }).count()).to.equal(1);

    const statuses = await page.getByLabel('Status').locator('option').allTextContents();
    expect(statuses).to.deep.equal(['Any status', 'pending', 'running', 'filed', 'skipped', 'failed', 'cancelled']);
    const reasons = await page.getByLabel('Reason').locator('option').allTextContents();
    expect(reasons[1]).to.equal('stale — Older than the ledger keeps');
    expect(reasons.join(' ')).to.not.include('locked');

    // Filtering by its done status and by its reason reads the API's own filter.
    await page.getByLabel('Status').selectOption('filed');
    await page.locator('table.items tbody td.domain', { hasText: records[3] }).waitFor();
    expect(await page.locator('table.items tbody tr').count()).to.equal(1);
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Reason').selectOption('stale');
    await page.locator('table.items tbody td.domain', { hasText: records[4] }).waitFor();
    expect(await page.locator('table.items tbody tr').count()).to.equal(1);
    expect(new URL(page.url()).searchParams.get('reason')).to.equal('stale');
    await page.getByLabel('Search records').waitFor();
    await expectAccessible(page, 'job page of another kind');
    await shoot('job');

    // The stop confirmation speaks of records, not domains.
    await page.getByRole('button', { name: 'Stop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop this job before it starts?' });
    await dialog.getByText('every record stays as it is').waitFor();
    await dialog.getByRole('button', { name: 'Keep it scheduled' }).click();
    await dialog.waitFor({ state: 'hidden' });
  });

  it('domain-push status and jobs print its units, done status and options in words', async () => {
    const target: CliTarget = { url, key: me.key };
    const status = await runCli(target, ['status', jobId]);
    expect(status.code, show(status)).to.equal(0);
    expect(status.stdout).to.include(`Job ${jobId} (ledger): scheduled`);
    expect(status.stdout).to.include('5 records: filed 1, skipped 1, failed 0, cancelled 0, pending 3');
    expect(status.stdout).to.include('retention: 30 days; no results email');
    expect(status.stdout).to.not.match(/push|releas|domain\(s\)/);
    const jobs = await runCli(target, ['jobs']);
    expect(jobs.code, show(jobs)).to.equal(0);
    expect(jobs.stdout).to.match(new RegExp(`^${jobId}\\s+ledger\\s+scheduled\\s+${me.username}\\s+-\\s+1/5\\s`, 'm'));
  });
});
