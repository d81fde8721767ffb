import { expect } from 'chai';
import { DEMO_DOMAINS, seedDemo } from '../../bin/demo-data';
import { waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';

/**
 * Why the demo has 20,000 domains, on the production chunking (1,000 domains a
 * chunk, two chunks at once): a push of every demo domain cancelled at once still has domains
 * left to cancel, and a second push moves the rest. With 2,000 demo domains both chunks were in
 * a worker's hands before the cancel, which then cancelled nothing.
 */
describe('the demo walk-through', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ config: { CHUNK_SIZE: 1000, WORKER_CONCURRENCY: 2 } });
    const demo = await seedDemo(sys.rt.deps);
    if (demo.alreadySeeded) throw new Error('a fresh database already had the demo data');
    const row = await sys.db('resellers').where({ username: 'losing-demo' }).first();
    losing = { username: 'losing-demo', company_id: String(row.company_id), key: demo.losingKey, id: Number(row.id) };
  });
  after(async () => {
    await sys?.stop();
  });

  const push = () =>
    sys
      .http()
      .post('/v1/bulk-pushes')
      .set('Authorization', `Bearer ${losing.key}`)
      .send({ gaining_reseller: 'gaining-demo', all_domains: true, apply_to_locked: true, email_results_to: 'ops@losing.example' });

  it('cancels a push of every demo domain submitted and cancelled at once, then pushes the rest', async () => {
    const first = await push();
    expect(first.status).to.equal(202);
    expect(first.body.total).to.equal(DEMO_DOMAINS);
    const cancel = await sys.http().post(`/v1/bulk-pushes/${first.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(cancel.status).to.equal(202);
    const cancelled = await waitForJob(sys, losing, first.body.id);
    expect(cancelled.status).to.equal('cancelled');
    // Only the chunks a worker had taken before the cancel may finish.
    expect(cancelled.counts.cancelled, 'domains left to cancel').to.be.greaterThan(0);
    expect(cancelled.counts.cancelled).to.be.at.least(DEMO_DOMAINS - 2 * 1000);
    expect(cancelled.counts.pushed + cancelled.counts.cancelled).to.equal(DEMO_DOMAINS);

    const rest = await push();
    expect(rest.status).to.equal(202);
    expect(rest.body.total).to.equal(cancelled.counts.cancelled);
    const done = await waitForJob(sys, losing, rest.body.id, undefined, 90_000);
    expect(done.status).to.equal('completed');
    expect(done.counts.pushed).to.equal(cancelled.counts.cancelled);
    const left = await sys.db('domains').where({ reseller_id: losing.id }).count('* as n').first();
    expect(Number(left!.n)).to.equal(0);
  });
});
