import { expect } from 'chai';
import { kindTable } from '../../shared/bulk/kind';
import { KINDS } from '../../shared/kinds';
import { createArchive } from '../fixtures/kinds/archive/create';
import { archiveKind } from '../fixtures/kinds/archive/kind';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { runCli, show } from '../helpers/cli-run';
import { launchChromium, signIn } from '../helpers/console-browser';
import { importDomains, makeReseller, names, waitForJob, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { toText } from '../helpers/smtp';

/**
 * A third kind from a folder of its own (test/fixtures/kinds/archive/) registered in a table built
 * here, run by the real runtime, API, worker, outbox relay and CLI: nothing outside its folder and
 * the table names it, yet it gets jobs, items, emails, OpenAPI and dashboard names in its words.
 */
describe('a fixture kind (archive) from its own folder, end to end', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let me: TestReseller;
  let jobId: string;
  const list = names('arch', 5);

  before(async () => {
    sys = await startSystem({ kinds: kindTable([...Object.values(KINDS), archiveKind]) });
    me = await makeReseller(sys, 'arch-owner');
    await makeReseller(sys, 'arch-other');
    await importDomains(sys, [
      ...list.slice(0, 3).map((name) => ({ name, reseller: 'arch-owner' })),
      { name: list[3], reseller: 'arch-other' },
    ]);
    // list[4] is on no one's account: not_found.
    const job = await createArchive(sys.rt.deps, me.id, {
      domains: list,
      retention_days: 30,
      notify_to: 'archive-notice@example.test',
      email_results_to: 'arch-results@example.test',
    });
    jobId = job.id;
    await waitForJob(sys, me, jobId);
  });
  after(async () => {
    await sys?.stop();
  });

  const get = (path: string) => sys.http().get(path).set('Authorization', `Bearer ${me.key}`);

  it('the job view carries the kind, its labels, details, done status and counts', async () => {
    const res = await get(`/v1/jobs/${jobId}`);
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ kind: 'archive', done_status: 'archived', status: 'completed', total: 5 });
    expect(res.body.counts).to.include({ archived: 3, failed: 2 });
    expect(res.body.labels).to.include({ noun: 'Domain archive', unit: 'domain', units: 'domains', sent_title: 'Archive of arch-owner' });
    expect(res.body.details).to.deep.include({ label: 'Retention', value: '30 days' });
    expect(res.body.outcome_text).to.match(/3 of 5 archived/);
  });

  it('its items end with its statuses and reasons, and the filters take them', async () => {
    const all = await get(`/v1/jobs/${jobId}/items`);
    expect(all.status).to.equal(200);
    const by = Object.fromEntries(all.body.items.map((i: { domain: string; status: string; reason: string | null }) => [i.domain, i]));
    expect(by[list[0]]).to.include({ status: 'archived', reason: null });
    expect(by[list[3]]).to.include({ status: 'failed', reason: 'not_owned' });
    expect(by[list[4]]).to.include({ status: 'failed', reason: 'not_found' });
    const archived = await get(`/v1/jobs/${jobId}/items?status=archived`);
    expect(archived.body.items).to.have.length(3);
    const notOwned = await get(`/v1/jobs/${jobId}/items?reason=not_owned`);
    expect(notOwned.body.items.map((i: { domain: string }) => i.domain)).to.deep.equal([list[3]]);
    // A reason no kind of the table declares is refused, and nothing changed.
    const bad = await get(`/v1/jobs/${jobId}/items?reason=shredded`);
    expect(bad.status).to.equal(400);
    expect(bad.body.error.code).to.equal('invalid_request');
    expect((await get(`/v1/jobs/${jobId}`)).body.counts).to.include({ archived: 3, failed: 2 });
  });

  it('sends its own email and the results email with its title and the CSV of every item', async () => {
    const notice = await sys.smtp.waitFor((m) => toText(m).includes('archive-notice@example.test'));
    expect(notice.subject).to.equal('[domain-push] 3 domains archived for 30 days');
    expect(notice.text).to.include(`went into the archive (job ${jobId})`);
    const results = await sys.smtp.waitFor((m) => toText(m).includes('arch-results@example.test'));
    expect(results.subject).to.match(/^\[domain-push\] Domain archive of arch-owner: .*3 of 5 archived/);
    const csv = results.attachments.find((a) => a.contentType.startsWith('text/csv'));
    expect(csv, 'CSV attachment').to.not.equal(undefined);
    const lines = csv!.content.toString('utf8').trim().split('\n');
    expect(lines).to.have.length(6);
    expect(lines.find((l) => l.startsWith(list[3]))).to.include('not_owned');
  });

  it('the OpenAPI document lists its kind, done status, reasons and options schema', async () => {
    const doc = (await sys.http().get('/v1/openapi.json')).body;
    const s = doc.components.schemas;
    expect(s.Job.properties.kind.enum).to.include('archive');
    expect(s.Job.properties.done_status.enum).to.include('archived');
    expect(s.Item.properties.status.enum).to.include('archived');
    expect(JSON.stringify(s.Item.properties.reason)).to.include('expired');
    expect(s['KindOptions-archive'].properties).to.have.property('retention_days');
    const items = doc.paths['/v1/jobs/{id}/items'].get.parameters.find((p: { name: string }) => p.name === 'status');
    expect(items.schema.enum).to.include('archived');
  });

  it('the dashboard names its chunks in its words', async () => {
    const chunks = (await sys.rt.deps.queues.bulk.getJobs(['completed'])).filter((j) => j.data.jobId === jobId);
    expect(chunks.map((j) => j.name)).to.deep.equal([`archive ${jobId.slice(0, 8)}… chunk 1/1 arch-owner's archive, 5 domains`]);
    expect(chunks[0].returnvalue).to.match(/^archived 3, failed 2; job completed/);
    const board = await sys
      .http()
      .get('/admin/queues/api/queues?activeQueue=bulk&status=completed&page=1')
      .set('Authorization', `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`);
    expect(JSON.stringify(board.body)).to.include(`arch-owner's archive, 5 domains`);
  });

  it('`domain-push status <id>` shows the job in its words', async () => {
    const run = await runCli({ url: sys.url, key: me.key }, ['status', jobId]);
    // Completed with failures: the CLI's "partial" exit code.
    expect(run.code, show(run)).to.equal(1);
    expect(run.stdout, show(run)).to.include(`Job ${jobId} (archive): completed`);
    expect(run.stdout, show(run)).to.include('completed with 2 failures (3 of 5 archived)');
    // Its units, done status and options in its words (labels, done_status, details of the job view).
    expect(run.stdout, show(run)).to.match(/5 domains: .*archived 3/);
    expect(run.stdout, show(run)).to.include('retention: 30 days');
  });

  it('the console job page shows it in its labels and details (Chromium)', async () => {
    await ensureConsoleBuilt({ quiet: true });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signIn(page, sys, me, `/console/queue/${jobId}`);
      await page.getByRole('heading', { name: /Archive of arch-owner/ }).waitFor();
      const options = page.locator('dl.options');
      await options.getByText('Retention').waitFor();
      expect(await options.textContent()).to.include('30 days');
      expect(await page.getByRole('searchbox', { name: 'Search domains' }).count()).to.equal(1);
      await page.locator('table').getByText('archived').first().waitFor();
    } finally {
      await browser.close();
    }
  });
});
