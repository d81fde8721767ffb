import { expect } from 'chai';
import { authorize, makeReseller, names, snapshot, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/** Issue 7 point 2: per-reseller quotas, and a small job is not held behind another tenant's big ones. */

describe('tenancy: per-reseller quotas', () => {
  let sys: TestSystem;
  let big: TestReseller;
  let small: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    // No worker: jobs stay open, so the quota is what decides.
    sys = await startSystem({ worker: false, config: { MAX_OPEN_JOBS_PER_RESELLER: 2, MAX_OPEN_ITEMS_PER_RESELLER: 10 } });
    big = await makeReseller(sys, 'big');
    small = await makeReseller(sys, 'small');
    gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, big);
    await authorize(sys, gaining, small);
  });
  after(() => sys?.stop());

  it('open jobs: the one past the cap is 429 too_many_jobs with Retry-After, nothing written; other resellers are not affected; a cancel frees a slot', async () => {
    const first = await submit(sys, big, { gaining_reseller: 'gaining', domains: ['q-1.example'] });
    const second = await submit(sys, big, { gaining_reseller: 'gaining', domains: ['q-2.example'] });
    expect([first.status, second.status]).to.deep.equal([202, 202]);
    const before = await snapshot(sys);
    const third = await submit(sys, big, { gaining_reseller: 'gaining', domains: ['q-3.example'] });
    expect(third.status, JSON.stringify(third.body)).to.equal(429);
    expect(third.body.error.code).to.equal('too_many_jobs');
    expect(third.body.error.details).to.include({ open_jobs: 2, max_open_jobs: 2 });
    expect(Number(third.headers['retry-after'])).to.be.at.least(1);
    expect(await snapshot(sys)).to.deep.equal(before);

    expect((await submit(sys, small, { gaining_reseller: 'gaining', domains: ['s-1.example'] })).status).to.equal(202);

    const cancel = await sys.http().post(`/v1/bulk-pushes/${first.body.id}/cancel`).set('Authorization', `Bearer ${big.key}`);
    expect(cancel.status).to.equal(202);
    expect((await submit(sys, big, { gaining_reseller: 'gaining', domains: ['q-3.example'] })).status).to.equal(202);
  });

  it('open items: a job that would take the reseller past the cap is refused, a smaller one fits', async () => {
    const before = await snapshot(sys);
    const res = await submit(sys, small, { gaining_reseller: 'gaining', domains: names('items', 10) });
    expect(res.status, JSON.stringify(res.body)).to.equal(429);
    expect(res.body.error.code).to.equal('too_many_jobs');
    expect(res.body.error.details).to.include({ open_items: 1, requested_items: 10, max_open_items: 10 });
    expect(await snapshot(sys)).to.deep.equal(before);
    expect((await submit(sys, small, { gaining_reseller: 'gaining', domains: names('items', 9) })).status).to.equal(202);
  });

  it('concurrent submits cannot overshoot the cap together', async () => {
    const racer = await makeReseller(sys, 'racer');
    await authorize(sys, gaining, racer);
    const all = await Promise.all(
      Array.from({ length: 6 }, (_, i) => submit(sys, racer, { gaining_reseller: 'gaining', domains: [`race-${i}.example`] })),
    );
    expect(all.filter((r) => r.status === 202)).to.have.length(2);
    expect(all.filter((r) => r.status === 429)).to.have.length(4);
    expect(Number((await sys.db('bulk_jobs').where({ losing_reseller_id: racer.id }).count('* as n').first())!.n)).to.equal(2);
  });
});

describe('tenancy: fair share of the workers', () => {
  let sys: TestSystem;
  let big: TestReseller;
  let small: TestReseller;

  before(async () => {
    // One chunk at a time, 10 items per chunk: the order the worker takes chunks in is visible.
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 10, WORKER_CONCURRENCY: 1 } });
    big = await makeReseller(sys, 'big');
    small = await makeReseller(sys, 'small');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, big);
    await authorize(sys, gaining, small);
  });
  after(() => sys?.stop());

  it("a small job submitted behind another reseller's big ones runs next, not after them", async () => {
    // 3 jobs x 300 names (90 chunks) of one reseller, queued before the worker starts.
    const bigJobs: string[] = [];
    for (let j = 0; j < 3; j++) {
      const res = await submit(sys, big, { gaining_reseller: 'gaining', domains: names(`big${j}`, 300) });
      expect(res.status).to.equal(202);
      bigJobs.push(res.body.id);
    }
    const bigDone = async () =>
      Number((await sys.db('bulk_job_items').whereIn('job_id', bigJobs).whereNotNull('finished_at').count('* as n').first())!.n);
    await sys.startWorker();
    await waitUntil('the big reseller to be under way', async () => (await bigDone()) >= 50);

    const res = await submit(sys, small, { gaining_reseller: 'gaining', domains: names('small', 5) });
    expect(res.status).to.equal(202);
    const job = await waitForJob(sys, small, res.body.id);
    expect(job.status).to.equal('completed');

    for (const id of bigJobs) expect((await waitForJob(sys, big, id, undefined, 120_000)).status).to.equal('completed');
    // Judged on the database's clock: how much of the big reseller's work ended after the small job did
    // (first come, first served, that would be none of it).
    const after = Number(
      (await sys
        .db('bulk_job_items')
        .whereIn('job_id', bigJobs)
        .where('finished_at', '>', String(job.finished_at))
        .count('* as n')
        .first())!.n,
    );
    expect(after, 'items of the big reseller finished after the small job').to.be.at.least(500);
  });
});
