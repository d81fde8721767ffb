import { expect } from 'chai';
import { expectPushPromiseKept } from './helpers/invariants';
import { dumpWorkers, expectJsonLogs, lockedDomains, parties } from './helpers/scenario';
import { startReplyDropper, type ReplyDropper } from './helpers/servers';
import { startFaultSystem, type FaultSystem } from './helpers/system';
import { submit, type TestReseller } from '../helpers/fixtures';

describe('faults: the reply to the enqueue is lost (a proxy drops what Redis answers)', function () {
  this.timeout(300_000);
  let sys: FaultSystem;
  let proxy: ReplyDropper;
  let losing: TestReseller;

  before(async () => {
    sys = await startFaultSystem({
      apiRedisUrl: async (redis) => {
        proxy = await startReplyDropper(redis.port);
        return proxy.url;
      },
    });
    ({ losing } = await parties(sys));
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') dumpWorkers(sys);
    await sys.killWorkers();
  });
  after(async () => {
    await sys?.stop();
    await proxy?.close();
  });

  it('Redis took the chunk jobs but the API never heard back: the client gets 202 with the job id, and the job runs to its end with every promise kept', async () => {
    const { domains, locked } = await lockedDomains(sys, 'lost', 600);
    sys.spawnWorker();
    // A first push loads BullMQ's scripts into Redis, so the lost one is a plain EVALSHA that Redis runs.
    const warm = await lockedDomains(sys, 'warm', 3);
    const first = await submit(sys, losing, { gaining_reseller: 'gaining', domains: warm.domains });
    expect(first.status).to.equal(202);

    // The chunk job name is in the command that adds the chunks: from it on, replies are lost.
    proxy.arm('push-chunk', 8_000);
    const res = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains,
      apply_to_locked: true,
      email_results_to: 'ops@losing.example',
    });
    expect(proxy.dropped(), 'the proxy dropped the reply').to.equal(1);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    expect(id).to.be.a('string');

    await expectPushPromiseKept(sys, {
      jobs: [{ id, applyToLocked: true }],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    const view = await sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', `Bearer ${losing.key}`);
    expect(view.status).to.equal(200);
    expect(view.body).to.include({ status: 'completed', total: domains.length });
    expectJsonLogs(sys);
  });
});
