import { expect } from 'chai';
import { expectPushPromiseKept } from './helpers/invariants';
import {
  counts,
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

describe('faults: every worker SIGKILLed on the registry path', function () {
  this.timeout(300_000);
  let sys: FaultSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startFaultSystem();
    ({ losing } = await parties(sys));
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') dumpWorkers(sys);
  });
  after(() => sys?.stop());

  it('both workers killed mid-job and started again: every domain pushed once, every locked domain locked again, one results email', async () => {
    const { domains, locked } = await lockedDomains(sys, 'kill-all', 1200);
    const id = await submitPush(sys, losing, domains, true);
    sys.spawnWorker();
    sys.spawnWorker();
    await midRegistryPath(sys, id, 100);
    await sys.killWorkers();
    const midway = (await counts(sys, id))!;
    expect(midway.pushed, 'killed before the end').to.be.below(domains.length);

    const restartedAt = Date.now();
    sys.spawnWorker();
    sys.spawnWorker();
    await measureRecovery(sys, 'both workers killed', id, restartedAt);
    await expectPushPromiseKept(sys, {
      jobs: [{ id, applyToLocked: true }],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    await reportEnd(sys, 'both workers killed', id, restartedAt);
    expectJsonLogs(sys);
  });
});
