import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { expectAccessible, SCREENSHOTS, signIn as signInAs, startConsoleSuite, stopConsoleSuite, WIDTHS } from '../helpers/console-browser';
import { allItems, importDomains, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import type { TestSystem } from '../helpers/system';

/**
 * The Move form as a reseller uses it, in real Chromium against the real API, worker, Postgres and
 * Redis: nothing moves until the review step is confirmed (Enter in a field never moves), a big
 * move asks for the gaining reseller's username, a move waits its grace window and Stop in that
 * window cancels every item with nothing moved, and the queue tells outcomes straight (an
 * all-failed job is red, never a green "completed"). Every step is checked with axe and at 1280
 * and 390 px without sideways scrolling.
 *
 * Screenshots go to SHOTS_DIR (default test-artifacts/screenshots), as move-<name>-<width>.png.
 */
describe('move review, grace window and outcomes (browser)', function () {
  this.timeout(180_000);
  const SHOTS = process.env.SHOTS_DIR ?? SCREENSHOTS;
  let sys: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let losing: TestReseller;
  let gaining: TestReseller;
  /** Every POST /v1/bulk-pushes the page sent, dry runs included. */
  let pushes: { dryRun: boolean; body: Record<string, unknown> }[];

  before(async function () {
    this.timeout(240_000);
    ({ sys, browser, losing, gaining } = await startConsoleSuite('mr', { config: { CHUNK_SIZE: 50, SCHEDULER_INTERVAL_MS: 200 } }));
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(() => stopConsoleSuite({ sys, browser }));
  beforeEach(async () => {
    pushes = [];
    context = await browser.newContext({ viewport: { width: WIDTHS.wide, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: sys.url });
    page = await context.newPage();
    page.on('request', (r: Request) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/bulk-pushes') {
        const body = r.postDataJSON() as Record<string, unknown>;
        pushes.push({ dryRun: body.dry_run === true, body });
      }
    });
  });
  afterEach(async function () {
    // A failed step leaves its page behind to look at.
    if (this.currentTest?.state === 'failed')
      await page.screenshot({ path: path.join(SHOTS, 'move-failed.png'), fullPage: true }).catch(() => {});
    await context?.close();
  });

  const signIn = (who: TestReseller = losing, to = '/console/domains') => signInAs(page, sys, who, to);

  async function ownersOf(domains: string[]): Promise<Map<string, string | null>> {
    const rows = await sys
      .db('domains as d')
      .leftJoin('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .select('d.name', 'r.username');
    return new Map(rows.map((r) => [r.name as string, r.username as string | null]));
  }

  const jobCount = async () => Number((await sys.db('bulk_jobs').count('* as n').first())!.n);

  /** A real paste (clipboard + Ctrl+V): one input event, as when a reseller pastes a long list. */
  async function paste(label: string, text: string) {
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.getByLabel(label).focus();
    await page.keyboard.press('ControlOrMeta+V');
  }

  async function openMoveForm() {
    await page.getByRole('button', { name: /Bulk actions/ }).click();
    await page.getByRole('menuitem', { name: 'Move to another reseller' }).click();
    const heading = page.getByRole('heading', { name: 'Move to another reseller' });
    await heading.waitFor();
    // Focus lands on the form's heading, not on <body>.
    await page.waitForFunction(() => document.activeElement?.textContent === 'Move to another reseller');
  }

  /** The page never scrolls sideways (a table may scroll inside its own box; an open dialog must fit too). */
  async function expectNoSidewaysScroll(label: string) {
    const widths = await page.evaluate(() => {
      const el = document.scrollingElement!;
      const d = document.querySelector('dialog[open]');
      return { scroll: el.scrollWidth, client: el.clientWidth, dialog: d ? d.scrollWidth - d.clientWidth : 0 };
    });
    expect(widths.scroll, `${label} scrolls sideways (${widths.scroll} > ${widths.client})`).to.be.at.most(widths.client);
    expect(widths.dialog, `${label}: the dialog scrolls sideways`).to.be.at.most(0);
  }

  /** Screenshots at 1280 and 390 px, each checked for sideways scrolling; back to 1280 after. */
  async function shoot(name: string, opts: { fullPage?: boolean } = {}) {
    for (const width of [WIDTHS.wide, WIDTHS.narrow]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForFunction((w) => document.documentElement.clientWidth === w, width);
      await page.screenshot({ path: path.join(SHOTS, `move-${name}-${width}.png`), fullPage: opts.fullPage ?? true });
      await expectNoSidewaysScroll(`${name} at ${width} px`);
    }
    await page.setViewportSize({ width: WIDTHS.wide, height: 900 });
  }

  it('Enter in any field of the Move form moves nothing; errors are sentences tied to their fields', async () => {
    const domains = names('enter', 3);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    // While the domains load the page says so, never "No domains".
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    await page.route('**/v1/domains?*', async (route) => {
      await held;
      await route.continue();
    });
    await signIn();
    await page.getByRole('row', { name: 'Loading…' }).waitFor();
    expect(await page.getByText('No domains', { exact: true }).count()).to.equal(0);
    expect(await page.getByText('No domain matches.').count()).to.equal(0);
    release();
    await page.getByText(/of \d+$/).waitFor();
    await page.unroute('**/v1/domains?*');

    const before = await jobCount();
    await openMoveForm();
    // Empty fields: the form says what to do, in sentences, tied to the fields, before any request.
    await page.getByRole('button', { name: 'Move domain' }).click();
    const username = page.getByLabel("Gaining reseller's username");
    const list = page.getByLabel('Domain list');
    await page.getByText("Enter the gaining reseller's username.").waitFor();
    await page.getByText('Paste or upload at least one domain name.').waitFor();
    for (const [field, message] of [
      [username, "Enter the gaining reseller's username."],
      [list, 'Paste or upload at least one domain name.'],
    ] as const) {
      expect(await field.getAttribute('aria-invalid')).to.equal('true');
      const describedBy = (await field.getAttribute('aria-describedby'))!.split(' ');
      const error = page.locator(`[id="${describedBy.at(-1)}"]`);
      expect(await error.textContent()).to.equal(message);
      expect(await error.getAttribute('role')).to.equal('alert');
    }
    await page.waitForFunction(() => document.activeElement?.tagName === 'TEXTAREA'); // focus on the first field in error
    expect(pushes).to.deep.equal([]);
    await expectAccessible(page, 'move form with errors');

    // Every kind of field shown, filled, then Enter pressed in each of them.
    await list.fill(domains.join('\n'));
    await username.fill(gaining.username);
    await page.getByLabel('Put accounts into an existing profile').check();
    await page.getByLabel('Profile domain').fill('profile.example');
    await page.getByLabel('Profile username').fill('someone');
    await page.getByLabel('Profile password').fill('secret');
    await page.getByLabel('Another address').check();
    await page.getByLabel('Email address for the results').fill('results@mr-losing.example');
    await page.getByLabel('When to start').selectOption('at');
    await page.getByLabel('Start at (your local time)').fill('2099-01-01T10:00');
    await page.getByLabel('Apply to locked domains').check();
    await page.getByLabel('Skip invalid entries').check();
    const form = page.locator('section.move-form form');
    const fields = form.locator('input:not([type="file"]), textarea, select');
    const n = await fields.count();
    expect(n).to.be.at.least(14);
    for (let i = 0; i < n; i++) {
      const field = fields.nth(i);
      if (!(await field.isEnabled())) continue;
      await field.focus();
      await page.keyboard.press('Enter');
    }
    expect(await page.getByRole('dialog').count()).to.equal(0);
    // Preview is a dry run: its answer shows that every earlier Enter had its turn and sent nothing.
    await page.getByLabel('Create new profile for each domain').check();
    await page.getByLabel('When to start').selectOption('30');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('3 pushed').waitFor();
    expect(pushes.map((p) => p.dryRun)).to.deep.equal([true]);
    expect(pushes[0].body).to.include({ skip_invalid: true, start_after_seconds: 30, email_results_to: 'results@mr-losing.example' });
    expect(await jobCount()).to.equal(before);
    expect([...(await ownersOf(domains)).values()]).to.deep.equal(Array(3).fill(losing.username));
    await expectAccessible(page, 'move form');
    await shoot('form');
  });

  it('Move opens a review of the dry run; Back sends nothing; Confirm moves exactly what it said', async () => {
    const present = names('review', 4);
    const missing = names('review-missing', 1);
    await importDomains(
      sys,
      present.map((name, i) => ({ name, reseller: losing.username, locked: i === 0 })),
    );
    await signIn();
    await openMoveForm();
    await page.getByLabel('Domain list').fill([...present, ...missing].join('\n'));
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByLabel('Apply to locked domains').check();
    // The results go to the account email unless another address (or none) is chosen.
    expect(await page.getByLabel(/Your account email, ops@mr-losing\.example/).isChecked()).to.equal(true);
    expect(await page.getByLabel('When to start').inputValue()).to.equal('30');
    const before = await jobCount();

    await page.getByRole('button', { name: 'Move domain' }).click();
    const review = page.getByRole('dialog', { name: `Move 5 domains to ${gaining.username}?` });
    await review.waitFor();
    await page.waitForFunction((t) => document.activeElement?.textContent === t, `Move 5 domains to ${gaining.username}?`);
    await review
      .getByText(
        `Move 5 domains from ${losing.username} to ${gaining.username}: 4 will move, 1 locked will be unlocked and relocked, ` +
          '1 skipped or not found; users and mail go with them; this cannot be undone.',
      )
      .waitFor();
    await review.getByText('30 seconds after you confirm').waitFor();
    await review.getByText('The results go to your account email, ops@mr-losing.example.').waitFor();
    expect(pushes.map((p) => p.dryRun)).to.deep.equal([true]);
    expect(pushes[0].body).to.include({ start_after_seconds: 30, apply_to_locked: true });
    expect(pushes[0].body).to.not.have.property('email_results_to');
    await expectAccessible(page, 'review step');
    await shoot('review', { fullPage: false });

    // Back: the form again, nothing sent, focus back on the Move button.
    await review.getByRole('button', { name: 'Back to the form' }).click();
    await review.waitFor({ state: 'hidden' });
    await page.waitForFunction(() => document.activeElement?.textContent === 'Move domain');
    expect(pushes.map((p) => p.dryRun)).to.deep.equal([true]);
    expect(await jobCount()).to.equal(before);

    // A schedule: at a time, or at the gaining reseller's next billing cycle; the review says when.
    await page.getByLabel('When to start').selectOption('at');
    await page.getByRole('button', { name: 'Move domain' }).click();
    await page.getByText('Choose the date and time the move starts.').waitFor();
    await page.getByLabel('Start at (your local time)').fill(
      await page.evaluate(() => {
        // In the browser's time zone, as a datetime-local field takes it (no helper: evaluate gets plain code).
        const d = new Date(Date.now() + 2 * 3600_000);
        return [d.getFullYear(), '-', d.getMonth() + 1, '-', d.getDate(), 'T', d.getHours(), ':', d.getMinutes()]
          .map((x) => (typeof x === 'number' && x < 10 ? `0${x}` : String(x)))
          .join('');
      }),
    );
    await page.getByRole('button', { name: 'Move domain' }).click();
    await review.getByText(/Starts: \w{3} \d+, \d{4}, .+ \(your time\)\. Until then you can stop, suspend or reschedule it/).waitFor();
    expect(pushes.at(-1)!.body.start_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    await review.getByRole('button', { name: 'Back to the form' }).click();
    await page.getByLabel('When to start').selectOption('next_cycle');
    await page.getByRole('button', { name: 'Move domain' }).click();
    await review.getByText(/Starts: at the gaining reseller's next billing cycle, \w{3} \d+, \d{4}/).waitFor();
    expect(pushes.at(-1)!.body).to.include({ start_at: 'next_cycle' });
    await review.getByRole('button', { name: 'Back to the form' }).click();
    expect(await jobCount()).to.equal(before);

    // Start at once this time; Escape also goes back; then Confirm moves.
    await page.getByLabel('When to start').selectOption('0');
    await page.getByRole('button', { name: 'Move domain' }).click();
    await review.getByText('Starts: at once when you confirm.').waitFor();
    await page.keyboard.press('Escape');
    await review.waitFor({ state: 'hidden' });
    expect(await jobCount()).to.equal(before);
    await page.getByRole('button', { name: 'Move domain' }).click();
    await review.getByRole('button', { name: 'Move 5 domains' }).click();
    await page.waitForURL(/\/console\/queue\?submitted=/);
    const id = new URL(page.url()).searchParams.get('submitted')!;
    const sent = pushes.filter((p) => !p.dryRun);
    expect(sent).to.have.length(1);
    expect(sent[0].body).to.include({ start_after_seconds: 0, apply_to_locked: true, gaining_reseller: gaining.username });
    const job = await waitForJob(sys, losing, id);
    expect(job.counts).to.include({ pushed: 4, failed: 1 });
    const owners = await ownersOf(present);
    expect(present.map((d) => owners.get(d))).to.deep.equal(Array(4).fill(gaining.username));
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.getByText('Completed with 1 failure').waitFor();
    expect(await row.locator('.badge').getAttribute('class')).to.include('tone-warning');
  });

  it('a move of 1,000 domains or more asks for the gaining username to be typed; Enter in it moves nothing', async () => {
    const domains = names('typed', 1000);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    await signIn();
    await openMoveForm();
    await paste('Domain list', domains.join('\n'));
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByRole('button', { name: 'Move domain' }).click();
    const review = page.getByRole('dialog', { name: `Move 1,000 domains to ${gaining.username}?` });
    await review.waitFor();
    const confirm = review.getByRole('button', { name: 'Move 1,000 domains' });
    const typed = review.getByLabel(`Type ${gaining.username} to confirm`);
    expect(await confirm.isDisabled()).to.equal(true);
    await typed.fill('mr-gainin');
    expect(await confirm.isDisabled()).to.equal(true);
    await page.keyboard.press('Enter');
    await typed.fill(gaining.username);
    await page.keyboard.press('Enter');
    expect(await confirm.isEnabled()).to.equal(true);
    await expectAccessible(page, 'review with typed confirmation');
    await shoot('review-typed', { fullPage: false });
    // Enter in the typed field did not confirm: the dialog is still open and nothing was sent.
    expect(await review.isVisible()).to.equal(true);
    await review.getByRole('button', { name: 'Back to the form' }).click();
    await review.waitFor({ state: 'hidden' });
    expect(pushes.every((p) => p.dryRun)).to.equal(true);
    expect(Number((await sys.db('bulk_jobs').where({ total: 1000 }).count('* as n').first())!.n)).to.equal(0);
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([losing.username]));
  });

  it('Stop inside the 30 s grace window cancels every item and leaves every domain with its owner', async () => {
    const domains = names('stop', 40);
    // One domain the search leaves out: '1–40 of 40' then shows only once the search has applied
    // (alone in its database the test could otherwise select the page before the search reloads it).
    await importDomains(
      sys,
      [...domains, 'decoy-for-stop.example'].map((name) => ({ name, reseller: losing.username })),
    );
    await signIn();
    await page.getByLabel('Search domains').fill('stop-');
    await page.getByText('1–40 of 40').waitFor();
    await page.getByLabel('Select all on this page').check();
    await page.getByText('40 selected').waitFor();
    await openMoveForm();
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByRole('button', { name: 'Move domain' }).click();
    const review = page.getByRole('dialog', { name: `Move 40 domains to ${gaining.username}?` });
    await review.getByRole('button', { name: 'Move 40 domains' }).click();
    await page.waitForURL(/\/console\/queue\?submitted=/);
    const id = new URL(page.url()).searchParams.get('submitted')!;
    expect(pushes.filter((p) => !p.dryRun).map((p) => p.body.start_after_seconds)).to.deep.equal([30]);

    // The queue: scheduled, a live countdown, and Stop.
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.getByText('Scheduled').waitFor();
    const timer = row.getByRole('timer');
    const first = await timer.textContent();
    expect(first).to.match(/^in \d+ s$/);
    await page.waitForFunction(
      ([jobId, was]) => document.querySelector(`tr[data-job-id="${jobId}"] [role=timer]`)?.textContent !== was,
      [id, first],
    );
    await row.getByText('Nothing has moved yet').waitFor();
    await expectAccessible(page, 'queue with a scheduled job');
    await shoot('queue-scheduled');
    await row.getByRole('button', { name: /^Stop / }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop this move?' });
    await dialog.getByText('every one of its 40 domains stays with you').waitFor();
    await expectAccessible(page, 'stop confirmation');
    await dialog.getByRole('button', { name: 'Yes, stop it' }).click();
    await row.getByText('Cancelled after 0 of 40 pushed').waitFor();

    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('cancelled');
    const items = await allItems(sys, losing, id);
    expect(items.map((i) => i.status)).to.deep.equal(Array(40).fill('cancelled'));
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([losing.username]));
    // A cancelled job never reads 100 %.
    const bar = row.getByRole('progressbar');
    expect(Number(await bar.getAttribute('aria-valuenow'))).to.be.below(100);
    expect(await row.locator('.pct').textContent()).to.equal('0 % pushed');
  });

  it('a push left in its 30 s grace window starts by itself at its time, not before, and moves', async () => {
    const domains = names('window', 5);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    await signIn();
    await openMoveForm();
    await page.getByLabel('Domain list').fill(domains.join('\n'));
    await page.getByLabel("Gaining reseller's username").fill(gaining.username);
    await page.getByRole('button', { name: 'Move domain' }).click();
    await page
      .getByRole('dialog', { name: `Move 5 domains to ${gaining.username}?` })
      .getByRole('button', { name: 'Move 5 domains' })
      .click();
    await page.waitForURL(/\/console\/queue\?submitted=/);
    const id = new URL(page.url()).searchParams.get('submitted')!;
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.getByText('Scheduled').waitFor();
    // Nothing moves in the window; the queue turns to the outcome by itself once the time has come.
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([losing.username]));
    await row.locator('.badge', { hasText: /^Completed$/ }).waitFor({ timeout: 60_000 });
    expect(await row.locator('.badge').getAttribute('class')).to.include('tone-success');
    const job = await sys.db('bulk_jobs').where({ id }).first('start_at', 'started_at', 'created_at');
    expect(new Date(job.start_at).getTime() - new Date(job.created_at).getTime()).to.be.within(29_000, 31_000);
    expect(new Date(job.started_at).getTime(), 'started before its start time').to.be.at.least(new Date(job.start_at).getTime());
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([gaining.username]));
  });

  it('a job waiting its window can be suspended, resumed and rescheduled to start now from the queue', async () => {
    const domains = names('resched', 3);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains, start_after_seconds: 600 });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    expect(sub.body.status).to.equal('scheduled');
    const id = sub.body.id as string;
    await signIn(losing, '/console/queue');
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row
      .getByRole('timer')
      .getByText(/^in (9|10) min/)
      .waitFor();

    await row.getByRole('button', { name: /^Suspend / }).click();
    await row.getByText('Held before its start').waitFor();
    expect((await waitForJob(sys, losing, id, ['suspended'])).status).to.equal('suspended');
    await row.getByRole('button', { name: /^Resume / }).click();
    await row.getByRole('timer').waitFor();
    expect((await waitForJob(sys, losing, id, ['scheduled'])).status).to.equal('scheduled');
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([losing.username]));

    await row.getByRole('button', { name: /^Reschedule / }).click();
    const dialog = page.getByRole('dialog', { name: 'Reschedule this move?' });
    await dialog.getByLabel('New start').selectOption('now');
    await expectAccessible(page, 'reschedule dialog');
    await dialog.getByRole('button', { name: 'Save the new start' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const job = await waitForJob(sys, losing, id);
    expect(job.counts).to.include({ pushed: 3 });
    expect(new Set((await ownersOf(domains)).values())).to.deep.equal(new Set([gaining.username]));
    await row.locator('.badge', { hasText: 'Completed' }).waitFor();
    expect(await row.locator('.badge').getAttribute('class')).to.include('tone-success');
  });

  it('a job whose items all failed reads as failed in the queue, never a green "completed"', async () => {
    const sub = await submit(sys, losing, { gaining_reseller: gaining.username, domains: names('nowhere', 2) });
    expect(sub.status, JSON.stringify(sub.body)).to.equal(202);
    const job = await waitForJob(sys, losing, sub.body.id);
    expect(job.counts).to.include({ pushed: 0, failed: 2 });
    await signIn(losing, '/console/queue');
    const row = page.locator(`tr[data-job-id="${sub.body.id}"]`);
    const badge = row.locator('.badge');
    await badge.getByText('All failed').waitFor();
    expect(await badge.getAttribute('class')).to.include('tone-danger');
    expect(await row.locator('.tone-success').count()).to.equal(0);
    expect(await row.textContent()).to.not.match(/\bcompleted\b/i);
    expect(await row.locator('.pct').textContent()).to.equal('0 % pushed');
    const green = await badge.evaluate((el) => {
      const [r, g, b] = getComputedStyle(el).backgroundColor.match(/\d+/g)!.map(Number);
      return g > r + 30 && g > b + 30;
    });
    expect(green, 'the all-failed badge is not green').to.equal(false);
    await expectAccessible(page, 'queue with an all-failed job');
    await shoot('queue-failed');
  });
});
