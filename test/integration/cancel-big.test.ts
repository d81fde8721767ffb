import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * A cancel of a big job answers before rewriting every pending item (that took seconds); the job
 * is `cancelling` from the answer on, its pending items are cancelled right after, and the
 * reconciler finishes them when the process died first.
 */
describe('cancelling a big job', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false });
    losing = await makeReseller(sys, 'big-losing');
    gaining = await makeReseller(sys, 'big-gaining');
    await authorize(sys, gaining, losing);
  });
  after(async () => {
    await sys?.stop();
  });

  const cancel = (id: string) => sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
  const items = (id: string) => sys.db('bulk_job_items').where({ job_id: id });

  it('is answered as cancelling at once; no pending item starts, all end cancelled, and the job ends cancelled', async () => {
    const list = names('big1', 5000);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: 'big-losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'big-gaining', domains: list });
    await sys.startWorker();
    const get = () => sys.http().get(`/v1/bulk-pushes/${res.body.id}`).set('Authorization', `Bearer ${losing.key}`);
    await waitUntil(async () => (await get()).body.counts.pushed > 0, { interval: 0, label: 'the first domain pushed' });
    const answer = await cancel(res.body.id);
    expect(answer.status).to.equal(202);
    expect(answer.body.status).to.equal('cancelling');
    const ack = (await sys.db.raw('select now() as t')).rows[0].t as Date;
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('cancelled');
    expect(job.counts.pushed + job.counts.cancelled).to.equal(5000);
    expect(job.counts.cancelled).to.be.greaterThan(2000);
    const late = await items(res.body.id).where('started_at', '>', ack).count('* as n').first();
    expect(Number(late!.n), 'items started after the cancel was answered').to.equal(0);
    const wrong = await items(res.body.id).where({ status: 'cancelled' }).whereNot({ reason: 'cancelled' }).count('* as n').first();
    expect(Number(wrong!.n)).to.equal(0);
    const moved = await sys.db('domains').where({ reseller_id: gaining.id }).count('* as n').first();
    expect(Number(moved!.n)).to.equal(job.counts.pushed);
  });

  it("is finished by the reconciler when the cancel's process died before cancelling the pending items", async () => {
    await sys.stopWorker();
    const list = names('big2', 3000);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: 'big-losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'big-gaining', domains: list });
    // What the cancel's transaction commits before the batches that a killed process never ran.
    await sys.db('bulk_jobs').where({ id: res.body.id }).update({ status: 'cancelling', cancel_requested_at: sys.db.fn.now() });
    const worker = await sys.startWorker();
    await worker.reconcileNow();
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('cancelled');
    expect(job.counts).to.include({ cancelled: 3000, pushed: 0, pending: 0 });
    const owned = await sys.db('domains').where({ reseller_id: losing.id }).whereIn('name', list).count('* as n').first();
    expect(Number(owned!.n)).to.equal(3000);
  });
});
