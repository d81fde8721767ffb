import { expect } from 'chai';
import { waitUntil } from '../helpers/resilience';
import type { TestReseller } from '../helpers/fixtures';
import { startReceiver, type Receiver } from '../integration/webhooks-receiver';
import { dumpWorkers, lockedDomains, midRegistryPath, parties, submitPush } from './helpers/scenario';
import { startFaultSystem, type FaultSystem } from './helpers/system';

/** The worker's webhook relay with short bounds (its lease: 2 × 1.5 s + 1 s). */
const WEBHOOK_ENV = {
  WEBHOOK_INTERVAL_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_CAP_MS: '500',
  WEBHOOK_TIMEOUT_MS: '1500',
  WEBHOOK_RATE_PER_SECOND: '1000',
};
const PUSH_EVENTS = ['bulk_job.started', 'bulk_job.finished', 'domain.pushed_in', 'domain.pushed_out'];

/**
 * Issue 21 part 5 (webhooks): every event of a push reaches both sides' receivers exactly once
 * after de-duplication by event id, in the job's order, across SIGKILLed workers and a Redis
 * restart (own Postgres, own redis-server, workers as processes).
 */
describe('faults: webhooks of a push across worker kills and a Redis restart', function () {
  this.timeout(300_000);
  let sys: FaultSystem;
  let losing: TestReseller;
  let gaining: TestReseller;
  const receivers: Receiver[] = [];

  before(async () => {
    sys = await startFaultSystem();
    ({ losing, gaining } = await parties(sys));
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') dumpWorkers(sys);
    await sys.killWorkers();
    sys.workers.length = 0;
    for (const r of receivers.splice(0)) await r.close();
    await sys.db('webhook_endpoints').update({ enabled: false });
  });
  after(() => sys?.stop());

  /** A receiver for one side; every 7th request answers 500 (a retry, same id). */
  async function hook(who: TestReseller) {
    let n = 0;
    const rx = await startReceiver(() => ({ status: ++n % 7 === 0 ? 500 : 200 }));
    receivers.push(rx);
    const res = await sys
      .http()
      .post('/v1/webhooks')
      .set('Authorization', `Bearer ${who.key}`)
      .send({ url: rx.url, event_types: PUSH_EVENTS });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    rx.secret = res.body.secret;
    return { rx, id: res.body.id as string };
  }

  async function pushUnderFault(prefix: string, fault: () => Promise<void>) {
    const out = await hook(losing);
    const inn = await hook(gaining);
    const { domains } = await lockedDomains(sys, prefix, 600);
    const id = await submitPush(sys, losing, domains, true);
    sys.spawnWorker(WEBHOOK_ENV);
    sys.spawnWorker(WEBHOOK_ENV);
    await midRegistryPath(sys, id, 60);
    await fault();
    sys.spawnWorker(WEBHOOK_ENV);
    sys.spawnWorker(WEBHOOK_ENV);
    await waitUntil(
      `${prefix}: the job to end and every delivery to be done`,
      async () => {
        const job = await sys.db('bulk_jobs').where({ id }).first('status');
        if (job.status !== 'completed') return false;
        const open = await sys
          .db('webhook_deliveries')
          .whereIn('endpoint_id', [out.id, inn.id])
          .whereNot({ status: 'delivered' })
          .first('id');
        return !open;
      },
      180_000,
      100,
    );
    const pushed: string[] = (await sys.db('bulk_job_items').where({ job_id: id, status: 'pushed' }).pluck('domain_name')).sort();
    expect(pushed.length, 'the push moved domains').to.be.greaterThan(300);

    for (const [side, { rx }, type] of [
      ['losing', out, 'domain.pushed_out'],
      ['gaining', inn, 'domain.pushed_in'],
    ] as const) {
      expect(
        rx.received.every((r) => r.verified),
        `${side}: every request signed`,
      ).to.equal(true);
      const unique = [...rx.unique().values()];
      const ofJob = unique.filter((r) => r.json.data.job_id === id);
      // Exactly once after de-duplication: every moved domain in one event, none twice, none missing.
      const seen = ofJob.filter((r) => r.type === type).flatMap((r) => r.json.data.domains as string[]);
      expect(seen.length, `${side}: no domain in two events`).to.equal(new Set(seen).size);
      expect([...seen].sort(), `${side}: every pushed domain told once`).to.deep.equal(pushed);
      expect(
        ofJob.filter((r) => r.type === 'bulk_job.started'),
        `${side}: started once`,
      ).to.have.length(1);
      const finished = ofJob.filter((r) => r.type === 'bulk_job.finished');
      expect(finished, `${side}: finished once`).to.have.length(1);
      expect(finished[0].json.data).to.include({ status: 'completed' });
      // In the job's order: started first, finished last (by first arrival of each event).
      expect(ofJob[0].type, `${side}: started first`).to.equal('bulk_job.started');
      expect(ofJob.at(-1)?.type, `${side}: finished last`).to.equal('bulk_job.finished');
      const copies = rx.received.length - unique.length;
      console.log(
        `      [webhooks] ${prefix} ${side}: ${unique.length} events, ${rx.received.length} requests (${copies} repeats, de-duplicated)`,
      );
    }
  }

  it('every worker SIGKILLed mid-push: both sides get every event exactly once after de-duplication, in order', async () => {
    await pushUnderFault('hooks-kill', () => sys.killWorkers());
  });

  it('Redis restarted without its data mid-push: both sides get every event exactly once after de-duplication, in order', async () => {
    await pushUnderFault('hooks-redis', async () => {
      await sys.redis.stop({ keepData: false });
      await sys.redis.start();
    });
  });
});
