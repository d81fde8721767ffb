import { expect } from 'chai';
import { expectPushPromiseKept } from './helpers/invariants';
import { dumpWorkers, expectJsonLogs, parties, submitPush } from './helpers/scenario';
import { startFaultSystem, type FaultSystem } from './helpers/system';
import { importDomains, names, type TestReseller } from '../helpers/fixtures';
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

  /**
   * Small pairs (3 chunks each) so that both jobs' chunks are in the workers' hands at once; the
   * second in reverse order, so its first chunk meets the first job's last one in flight. Three of
   * four domains are locked: most of the first job's work is on the registry path.
   */
  async function pair(label: string, offsetMs: number, secondApplies = false) {
    const domains = names(label, 60);
    const locked = new Set(domains.filter((_, i) => i % 4 !== 0));
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: locked.has(name) })),
    );
    const a = await submitPush(sys, losing, domains, true);
    // The offset is the scenario, not a wait for a condition.
    if (offsetMs) await sleep(offsetMs);
    const b = await submitPush(sys, losing, [...domains].reverse(), secondApplies);

    await expectPushPromiseKept(sys, {
      jobs: [
        { id: a, applyToLocked: true },
        { id: b, applyToLocked: secondApplies },
      ],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
    });
    // Every domain is moved once: by one job or the other.
    const pushed = await sys.db('bulk_job_items').whereIn('job_id', [a, b]).where({ status: 'pushed' }).count('* as n').first();
    expect(Number(pushed!.n)).to.equal(domains.length);
    if (secondApplies) return;
    const bLocked: { domain_name: string; status: string; reason: string }[] = await sys
      .db('bulk_job_items')
      .where({ job_id: b })
      .whereIn('domain_name', [...locked])
      .select('domain_name', 'status', 'reason');
    const wrong = bLocked.filter(
      (i) => !(i.status === 'skipped' && i.reason === 'locked') && !(i.status === 'failed' && i.reason === 'not_owned'),
    );
    expect(wrong, 'locked domains of the apply_to_locked=false job: skipped/locked, or already moved (not_owned)').to.deep.equal([]);
  }

  for (const offsetMs of [0, 100, 200, 350, 500, 750, 1000]) {
    it(`apply_to_locked true, then false ${offsetMs} ms later (3 pairs): the second job pushes no locked domain, even one the first holds unlocked`, async () => {
      for (let round = 0; round < 3; round++) await pair(`overlap-${offsetMs}-${round}`, offsetMs);
      expectJsonLogs(sys);
    });
  }

  it('two jobs with apply_to_locked over the same domains: the second waits for domains the first holds, and each domain moves once', async () => {
    for (const offsetMs of [0, 200]) await pair(`overlap-both-${offsetMs}`, offsetMs, true);
    expectJsonLogs(sys);
  });
});
