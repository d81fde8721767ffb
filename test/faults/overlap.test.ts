import { expect } from 'chai';
import { expectPushPromiseKept } from './helpers/invariants';
import { dumpWorkers, expectJsonLogs, lockedDomains, parties, submitPush } from './helpers/scenario';
import { startFaultSystem, type FaultSystem } from './helpers/system';
import type { TestReseller } from '../helpers/fixtures';
import { sleep } from '../helpers/resilience';

describe('faults: two jobs of one reseller over the same domains', function () {
  this.timeout(300_000);
  let sys: FaultSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startFaultSystem();
    ({ losing } = await parties(sys));
    sys.spawnWorker();
    sys.spawnWorker();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') dumpWorkers(sys);
  });
  after(() => sys?.stop());

  for (const offsetMs of [0, 200, 500, 1000]) {
    it(`apply_to_locked true, then false ${offsetMs} ms later: the second job pushes no locked domain, even one the first holds unlocked`, async () => {
      const { domains, locked } = await lockedDomains(sys, `overlap-${offsetMs}`, 600);
      const a = await submitPush(sys, losing, domains, true);
      // The offset is the scenario, not a wait for a condition.
      await sleep(offsetMs);
      // In reverse order, so that the second job's first chunks meet the first job's last ones in flight.
      const b = await submitPush(sys, losing, [...domains].reverse(), false);

      await expectPushPromiseKept(sys, {
        jobs: [
          { id: a, applyToLocked: true },
          { id: b, applyToLocked: false },
        ],
        domains,
        originallyLocked: locked,
        losing: 'losing',
        gaining: 'gaining',
      });
      const bLocked: { domain_name: string; status: string; reason: string }[] = await sys
        .db('bulk_job_items')
        .where({ job_id: b })
        .whereIn('domain_name', [...locked])
        .select('domain_name', 'status', 'reason');
      const wrong = bLocked.filter(
        (i) => !(i.status === 'skipped' && i.reason === 'locked') && !(i.status === 'failed' && i.reason === 'not_owned'),
      );
      expect(wrong, 'locked domains of the apply_to_locked=false job: skipped/locked, or already moved (not_owned)').to.deep.equal([]);
      // Every domain is moved once: by one job or the other.
      const pushed = await sys.db('bulk_job_items').whereIn('job_id', [a, b]).where({ status: 'pushed' }).count('* as n').first();
      expect(Number(pushed!.n)).to.equal(domains.length);
      expectJsonLogs(sys);
    });
  }
});
