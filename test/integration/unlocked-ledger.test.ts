import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { processChunk } from '../../shared/bulk/process';
import { takeChunk } from '../../shared/bulk/take';
import { kindOf } from '../../shared/bulk/kind';
import { reconcile } from '../../shared/bulk/reconcile';
import { scrapeMetrics } from '../../shared/platform/metrics';
import { unlockedPastBound } from '../../shared/push/unlocked';

/**
 * The residual case no fence can close: attempt A has checked that it still holds its items and
 * is about to call the registry's unlock when it pauses; B takes the chunk over, unlocks, pushes
 * and relocks; then A's unlock reaches the registry, and A dies before locking again. The items say
 * `pushed, relocked` (B's), the domains are unlocked. The ledger of registry lock changes shows
 * them, the job does not end while they are, the gauge rises past its bound, and the reconciler's
 * sweep locks them again.
 */
describe('the registry lock ledger: a late unlock by a paused attempt', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({
      worker: false,
      // Bound of the gauge: 2 × 500 + 500 ms.
      config: { WORKER_LOCK_MS: 500, RECONCILE_INTERVAL_MS: 500, CHUNK_SIZE: 2 },
      registry: (db) => new ScriptedRegistry(db),
    });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  const gauge = async () => {
    const { body } = await scrapeMetrics(sys.rt.deps);
    const line = body.split('\n').find((l) => l.startsWith('domain_push_unlocked_domains '));
    return Number(line?.split(' ')[1]);
  };
  const domainRows = (domains: string[]) => sys.db('domains').whereIn('name', domains).orderBy('name').select('name', 'locked');
  const jobStatus = async (id: string) => (await sys.db('bulk_jobs').where({ id }).first('status')).status as string;

  it('shows the domains unlocked, holds the job open, and the sweep locks them again (gauge up, then 0)', async () => {
    const domains = names('ledger-late', 4);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    const chunk0 = domains.slice(0, 2);
    const kindFor = (kind: string) => kindOf(sys.rt.deps.kinds, kind);
    const handlerFor = (kind: string) => kindFor(kind).handler;

    // A: its unlocks hang until released (the pause), and its relock never succeeds (it dies).
    const regA = new ScriptedRegistry(sys.db);
    const depsA = { ...sys.rt.deps, registry: regA };
    const releaseA = regA.holdUnlocks(chunk0);
    for (const d of chunk0) regA.failNext(d, 'lock', 100);
    const takenA = (await takeChunk(depsA, kindFor, id, 0))!;
    const stepA = handlerFor('push').deferred!(depsA, takenA.job, takenA.deferred).then(
      () => null,
      (err: Error) => err,
    );
    await waitUntil(
      async () =>
        Number(
          (await sys.db('registry_lock_events').where({ owner: takenA.owner, action: 'unlock', phase: 'intent' }).count('* as n').first())!
            .n,
        ) === 2,
      { label: "A's unlock intent in the ledger" },
    );

    // A's lease runs out; B takes chunk 0 over and finishes it.
    await sys
      .db('bulk_job_items')
      .where({ job_id: id, chunk: 0 })
      .update({ lease_until: sys.db.raw(`clock_timestamp() - interval '1 second'`) });
    expect((await processChunk(sys.rt.deps, id, 0)).counts).to.deep.include({ pushed: 2 });
    expect((await domainRows(chunk0)).every((d) => d.locked)).to.equal(true);

    // A's unlock reaches the registry late; A's relock fails (it dies).
    releaseA();
    const errA = await stepA;
    expect(errA?.message).to.match(/relock failed/);
    expect(regA.calls.filter((c) => c.op === 'unlock' && c.ok)).to.have.length(2);
    expect((await domainRows(chunk0)).map((d) => d.locked)).to.deep.equal([false, false]);
    const items0 = await sys.db('bulk_job_items').where({ job_id: id, chunk: 0 });
    for (const i of items0) expect(i, 'the items say what B did').to.include({ status: 'pushed', was_locked: true, relocked: true });
    expect(await unlockedPastBound(sys.db, 0)).to.equal(2);

    // The rest of the job ends its items, but the job does not end while the ledger shows an unlock.
    await processChunk(sys.rt.deps, id, 1);
    expect(Number((await sys.db('bulk_job_items').where({ job_id: id, status: 'pushed' }).count('* as n').first())!.n)).to.equal(4);
    expect(await jobStatus(id), 'no completed job with an unlocked domain').to.equal('running');

    // Past the bound, the gauge shows them.
    await waitUntil(async () => (await gauge()) === 2, { timeout: 10_000, label: 'the gauge to show 2 domains past the bound' });

    // The reconciler's sweep locks them again (through the system's registry), then the job ends.
    await reconcile(sys.rt.deps);
    expect((await domainRows(domains)).every((d) => d.locked)).to.equal(true);
    expect(await gauge()).to.equal(0);
    expect(await unlockedPastBound(sys.db, 0)).to.equal(0);
    expect(await jobStatus(id)).to.equal('completed');
    const billed = await sys.db('billing_events').where({ job_id: id }).groupBy('domain_id', 'kind').select('kind').count('* as n');
    expect(billed).to.have.length(8);
    expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
  });

  it('a normal registry-path push leaves the ledger closed: every unlock followed by a lock', async () => {
    const domains = names('ledger-normal', 3);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
    const id = res.body.id as string;
    await processChunk(sys.rt.deps, id, 0);
    await processChunk(sys.rt.deps, id, 1);
    expect(await jobStatus(id)).to.equal('completed');
    const events = await sys.db('registry_lock_events').where({ job_id: id }).orderBy('id').select('domain_name', 'action', 'phase');
    for (const d of domains) {
      expect(events.filter((e) => e.domain_name === d).map((e) => `${e.action}:${e.phase}`)).to.deep.equal([
        'unlock:intent',
        'unlock:done',
        'lock:done',
      ]);
    }
    expect(await unlockedPastBound(sys.db, 0)).to.equal(0);
    expect((await domainRows(domains)).every((d) => d.locked)).to.equal(true);
  });
});
