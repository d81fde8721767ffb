import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, waitForJob } from '../helpers/fixtures';
import { OPERATOR_KEY, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** What an operator sees: readable chunk jobs on bull-board, a page that needs no internet, the outbox on /readyz. */
describe('the operator dashboard and outbox view', function () {
  this.timeout(60_000);
  let sys: TestSystem;

  before(async () => {
    sys = await startSystem();
  });
  after(async () => {
    await sys?.stop();
  });

  const basic = `Basic ${Buffer.from(`ops:${OPERATOR_KEY}`).toString('base64')}`;

  it('names chunk jobs for an operator, reports progress and returns what each chunk did', async () => {
    const losing = await makeReseller(sys, 'dash-losing');
    const gaining = await makeReseller(sys, 'dash-gaining');
    await authorize(sys, gaining, losing);
    const list = names('dash', 250);
    // Three locked domains are skipped (apply_to_locked false): the result says so.
    await importDomains(
      sys,
      list.map((name, i) => ({ name, reseller: 'dash-losing', locked: i < 3 })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'dash-gaining', domains: list, apply_to_locked: false });
    expect(res.status).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.counts).to.include({ pushed: 247, skipped: 3 });

    const chunks = (await sys.rt.deps.queues.bulk.getJobs(['completed'])).filter((j) => j.data.jobId === res.body.id);
    const short = String(res.body.id).slice(0, 8);
    expect(chunks.map((j) => j.name).sort()).to.deep.equal([
      `push ${short}… chunk 1/3 dash-losing→dash-gaining, 100 domains`,
      `push ${short}… chunk 2/3 dash-losing→dash-gaining, 100 domains`,
      `push ${short}… chunk 3/3 dash-losing→dash-gaining, 50 domains`,
    ]);
    const byChunk = Object.fromEntries(chunks.map((j) => [j.data.chunk, j]));
    // The chunk that ended the job (whichever finished last) adds the job's outcome, in the words
    // the console, CLI and emails use: a job with skipped domains never reads as a plain success.
    const ending = '; job completed with 3 skipped (247 of 250 pushed)';
    const enders = chunks.filter((j) => String(j.returnvalue).endsWith(ending));
    expect(enders, 'chunks that report the job outcome').to.have.length(1);
    const own = (j: (typeof chunks)[number]) => String(j.returnvalue).replace(ending, '');
    expect(own(byChunk[0])).to.equal('pushed 97, skipped 3');
    expect(own(byChunk[1])).to.equal('pushed 100');
    expect(own(byChunk[2])).to.equal('pushed 50');
    for (const j of chunks) expect(j.progress).to.equal(100);

    // The same, as the dashboard's own API serves it to the page.
    const api = await sys
      .http()
      .get('/admin/queues/api/queues')
      .query({ activeQueue: 'bulk', status: 'completed' })
      .set('Authorization', basic);
    expect(api.status).to.equal(200);
    const listed = api.body.queues.find((q: { name: string }) => q.name === 'bulk').jobs;
    expect(listed.map((j: { name: string }) => j.name)).to.include(`push ${short}… chunk 3/3 dash-losing→dash-gaining, 50 domains`);
  });

  it('serves the dashboard page with its fonts from the package, nothing from the internet', async () => {
    const page = await sys.http().get('/admin/queues/').set('Authorization', basic);
    expect(page.status).to.equal(200);
    expect(page.type).to.equal('text/html');
    expect(page.text).to.not.match(/https?:\/\//);
    expect(page.text).to.include('<base href="/admin/queues/"');
    const links = [...page.text.matchAll(/<link href="(fonts\/[^"]+\.css)"/g)].map((m) => m[1]);
    expect(links).to.have.length(5);
    for (const link of links) {
      const css = await sys.http().get(`/admin/queues/${link}`).set('Authorization', basic);
      expect(css.status, link).to.equal(200);
      expect(css.text).to.include('@font-face');
    }
    const sans = await sys.http().get(`/admin/queues/${links[0]}`).set('Authorization', basic);
    const font = /url\(\.\/(files\/[^)]+\.woff2)\)/.exec(sans.text)![1];
    const file = await sys
      .http()
      .get(`/admin/queues/${links[0].replace(/[^/]+$/, '')}${font}`)
      .set('Authorization', basic);
    expect(file.status).to.equal(200);
    expect(file.body.length).to.be.greaterThan(1000);
    // Still behind the operator's auth.
    expect((await sys.http().get(`/admin/queues/${links[0]}`)).status).to.equal(401);
  });

  it('/readyz shows the outbox: unsent and failing counts, the oldest unsent and the last error, and stays ready', async () => {
    // Earlier tests' jobs send results emails (to the account email by default): wait for the relay.
    const quiet = await waitUntil(
      async () => {
        const r = await sys.http().get('/readyz');
        return r.body.outbox?.unsent === 0 ? r : null;
      },
      { label: 'the outbox to be sent' },
    );
    expect(quiet.status).to.equal(200);
    expect(quiet.body.outbox).to.include({ unsent: 0, failing: 0, oldest_unsent_at: null, last_error: null });

    sys.smtp.refuse = true;
    try {
      const losing = await makeReseller(sys, 'mail-losing');
      const gaining = await makeReseller(sys, 'mail-gaining');
      await authorize(sys, gaining, losing);
      await importDomains(sys, [{ name: 'mail-1.example', reseller: 'mail-losing' }]);
      const res = await submit(sys, losing, {
        gaining_reseller: 'mail-gaining',
        domains: ['mail-1.example'],
        email_results_to: 'ops@mail.example',
      });
      await waitForJob(sys, losing, res.body.id);
      const ready = await waitUntil(
        async () => {
          const res = await sys.http().get('/readyz');
          return res.body.outbox?.last_error ? res : null;
        },
        { timeout: 20_000, interval: 50, label: "the outbox's last error in /readyz" },
      );
      expect(ready.status).to.equal(200);
      expect(ready.body.status).to.equal('ok');
      const outbox = ready.body.outbox;
      expect(outbox.unsent).to.be.at.least(1);
      expect(outbox.failing).to.be.at.least(1);
      expect(Date.parse(outbox.oldest_unsent_at)).to.be.at.most(Date.now());
      expect(outbox.oldest_unsent_age_seconds).to.be.at.least(0);
      expect(outbox.last_error.attempts).to.be.at.least(1);
      expect(outbox.last_error.error).to.be.a('string').and.not.empty;
      expect(JSON.stringify(outbox)).to.not.include('ops@mail.example'); // /readyz is unauthenticated
    } finally {
      sys.smtp.refuse = false;
    }
  });
});
