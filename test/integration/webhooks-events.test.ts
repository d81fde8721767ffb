import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { startReceiver, type Receiver } from './webhooks-receiver';

const ALL = [
  'bulk_job.scheduled',
  'bulk_job.started',
  'bulk_job.finished',
  'domain.pushed_in',
  'domain.pushed_out',
  'push_authorization.changed',
  'customer.released',
  'api_key.created',
  'api_key.revoked',
];

/**
 * Every event type from the change that causes it, through the real worker (its own webhook
 * relay): an authorization, a push (both sides, in the job's order), a customer release.
 */
describe('webhooks: the events of an authorization, a push and a release reach each side, in order', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  let rxLosing: Receiver;
  let rxGaining: Receiver;

  before(async () => {
    sys = await startSystem({ config: { WEBHOOK_INTERVAL_MS: 50, CHUNK_SIZE: 2 } });
    losing = await makeReseller(sys, `evl-${process.pid % 1000}`);
    gaining = await makeReseller(sys, `evg-${process.pid % 1000}`);
    rxLosing = await startReceiver();
    rxGaining = await startReceiver();
    for (const [who, rx] of [
      [losing, rxLosing],
      [gaining, rxGaining],
    ] as const) {
      const res = await sys.http().post('/v1/webhooks').set('Authorization', `Bearer ${who.key}`).send({ url: rx.url, event_types: ALL });
      expect(res.status).to.equal(201);
      rx.secret = res.body.secret;
    }
  });
  after(async () => {
    await sys?.stop();
    await rxLosing?.close();
    await rxGaining?.close();
  });

  const ofType = (rx: Receiver, type: string) => [...rx.unique().values()].filter((r) => r.type === type);

  it('an authorization tells both sides once (a repeat tells nothing)', async () => {
    await authorize(sys, gaining, losing);
    await authorize(sys, gaining, losing);
    for (const rx of [rxLosing, rxGaining]) {
      const [e] = await waitUntil(() => ofType(rx, 'push_authorization.changed').length === 1 && ofType(rx, 'push_authorization.changed'));
      expect(e.json.data).to.deep.equal({ gaining_reseller: gaining.username, losing_reseller: losing.username, authorized: true });
      expect(e.verified).to.equal(true);
    }
  });

  it('a push: scheduled, started, one pushed_out / pushed_in per chunk (both sides), finished with outcome and counts, in that order', async () => {
    const domains = names(`evp-${process.pid % 1000}`, 5);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: losing.username })),
    );
    const res = await submit(sys, losing, { gaining_reseller: gaining.username, domains });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('completed');
    for (const [rx, type, other] of [
      [rxLosing, 'domain.pushed_out', 'to_reseller'],
      [rxGaining, 'domain.pushed_in', 'from_reseller'],
    ] as const) {
      const finished = await waitUntil(() => ofType(rx, 'bulk_job.finished').find((r) => r.json.data.job_id === job.id));
      const ofJob = [...rx.unique().values()].filter((r) => r.json.data.job_id === job.id).map((r) => r.type);
      expect(ofJob[0]).to.equal('bulk_job.scheduled');
      expect(ofJob[1]).to.equal('bulk_job.started');
      expect(ofJob.at(-1)).to.equal('bulk_job.finished');
      const moved = ofType(rx, type).filter((r) => r.json.data.job_id === job.id);
      expect(moved, 'one event per chunk of 2').to.have.length(3);
      expect(moved.flatMap((r) => r.json.data.domains as string[]).sort()).to.deep.equal(domains);
      expect(moved[0].json.data[other]).to.equal(rx === rxLosing ? gaining.username : losing.username);
      expect(finished.json.data).to.include({
        outcome: 'all_pushed',
        status: 'completed',
        losing_reseller: losing.username,
        gaining_reseller: gaining.username,
      });
      expect(finished.json.data.counts).to.include({ pushed: 5 });
    }
  });

  it('a customer release tells its reseller customer.released after the job events; the other reseller hears nothing of it', async () => {
    const h = () => sys.http();
    const auth = { Authorization: `Bearer ${losing.key}` };
    const c = await h().post('/v1/customers').set(auth).send({ name: 'Hook Customer', email: 'hook@customer.example' });
    expect(c.status).to.equal(201);
    expect((await h().post(`/v1/customers/${c.body.id}/packages`).set(auth).send({ name: 'Hook package' })).status).to.equal(201);
    const rel = await h().post(`/v1/customers/${c.body.id}/release`).set(auth);
    expect(rel.status, JSON.stringify(rel.body)).to.equal(202);
    await waitForJob(sys, losing, rel.body.id);
    const [released] = await waitUntil(() => ofType(rxLosing, 'customer.released').length > 0 && ofType(rxLosing, 'customer.released'));
    expect(released.json.data).to.include({ customer_id: String(c.body.id), job_id: rel.body.id });
    await waitUntil(() => ofType(rxLosing, 'bulk_job.finished').some((r) => r.json.data.job_id === rel.body.id));
    const ofJob = [...rxLosing.unique().values()].filter((r) => r.json.data.job_id === rel.body.id).map((r) => r.type);
    expect(ofJob).to.deep.equal(['bulk_job.scheduled', 'bulk_job.started', 'customer.released', 'bulk_job.finished']);
    expect([...rxGaining.unique().values()].some((r) => r.json.data.job_id === rel.body.id)).to.equal(false);
  });

  it('revoking the authorization tells both sides (authorized: false)', async () => {
    const res = await sys
      .http()
      .delete(`/v1/push-settings/allowed-resellers/${losing.username}`)
      .set('Authorization', `Bearer ${gaining.key}`);
    expect(res.status).to.equal(204);
    for (const rx of [rxLosing, rxGaining]) {
      const e = await waitUntil(() => ofType(rx, 'push_authorization.changed').find((r) => r.json.data.authorized === false));
      expect(e.json.data).to.include({ gaining_reseller: gaining.username, losing_reseller: losing.username });
    }
  });
});
