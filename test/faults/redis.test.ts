import { expectPushPromiseKept } from './helpers/invariants';
import {
  dumpWorkers,
  expectJsonLogs,
  lockedDomains,
  measureRecovery,
  midRegistryPath,
  parties,
  reportEnd,
  submitPush,
} from './helpers/scenario';
import { startFaultSystem, type FaultSystem } from './helpers/system';
import type { TestReseller } from '../helpers/fixtures';
import { sleep } from '../helpers/resilience';

describe('faults: Redis restarted or down mid-job (own redis-server)', function () {
  this.timeout(300_000);
  let sys: FaultSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startFaultSystem();
    ({ losing } = await parties(sys));
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') dumpWorkers(sys);
    await sys.killWorkers();
    sys.workers.length = 0;
  });
  after(() => sys?.stop());

  async function pushUnderFault(prefix: string, fault: () => Promise<number>) {
    const { domains, locked } = await lockedDomains(sys, prefix, 1200);
    const id = await submitPush(sys, losing, domains, true);
    sys.spawnWorker();
    sys.spawnWorker();
    await midRegistryPath(sys, id, 100);
    const backAt = await fault();
    await measureRecovery(sys, prefix, id, backAt);
    await expectPushPromiseKept(sys, {
      jobs: [{ id, applyToLocked: true }],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    await reportEnd(sys, prefix, id, backAt);
    expectJsonLogs(sys);
  }

  it('a Redis restart without persistence mid-job loses every chunk job; the reconciler re-enqueues from Postgres and every promise holds', async () => {
    await pushUnderFault('redis-restart', async () => {
      await sys.redis.stop({ keepData: false });
      await sys.redis.start();
      return Date.now();
    });
  });

  it('Redis down for 60 s mid-job (its data kept): the workers wait it out and every domain ends pushed', async () => {
    await pushUnderFault('redis-down', async () => {
      await sys.redis.stop({ keepData: true });
      await sleep(60_000);
      await sys.redis.start();
      return Date.now();
    });
  });
});
