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
import { waitUntil } from '../helpers/wait';
import { expect } from 'chai';

describe('faults: Postgres restarted, killed or down mid-job (own cluster)', function () {
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

  it('a fast restart (pg_ctl restart -m fast) mid-job on the registry path fails no item: every domain is pushed once and locked ones end locked', async () => {
    await pushUnderFault('pg-restart', async () => {
      await sys.pg.restartFast();
      return Date.now();
    });
  });

  it('a SIGKILLed postmaster started again 10 s later fails no item: the job resumes and keeps every promise', async () => {
    await pushUnderFault('pg-kill', async () => {
      await sys.pg.killPostmaster();
      await sleep(10_000);
      await sys.pg.start();
      return Date.now();
    });
  });

  it('Postgres down for 60 s mid-job: the workers wait it out, log only JSON, and every domain ends pushed', async () => {
    await pushUnderFault('pg-down', async () => {
      await sys.pg.stop('fast');
      await sleep(60_000);
      await sys.pg.start();
      return Date.now();
    });
  });

  it('a worker started while Postgres is down waits for it, logging JSON only, then takes the job', async () => {
    const { domains, locked } = await lockedDomains(sys, 'pg-late', 200);
    const id = await submitPush(sys, losing, domains, true);
    await sys.pg.stop('fast');
    const worker = sys.spawnWorker();
    // It says, as JSON, that it is waiting, and stays up (it used to die on its first query).
    await waitUntil(() => worker.lines.filter((l) => l.includes('server unavailable, trying again')).length >= 2, {
      timeout: 60_000,
      interval: 50,
      label: 'the worker to say twice that it waits for Postgres',
    });
    expect(worker.child.exitCode, 'the worker is still running').to.equal(null);
    await sys.pg.start();
    const backAt = Date.now();
    await measureRecovery(sys, 'pg-late', id, backAt);
    await expectPushPromiseKept(sys, {
      jobs: [{ id, applyToLocked: true }],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    expectJsonLogs(sys);
  });
});
