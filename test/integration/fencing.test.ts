import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, type TestReseller } from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';
import { processChunk } from '../../shared/bulk/process';
import { keepLease, takeChunk } from '../../shared/bulk/take';
import { kindOf } from '../../shared/bulk/kind';
import { unlockedPastBound } from '../../shared/push/unlocked';

/**
 * A paused worker (SIGSTOP, a VM pause, a long GC) is simulated without processes: attempt A
 * takes a chunk through the engine's own functions and then stands still while its lease runs
 * out; attempt B takes the chunk over and finishes it; then A goes on where it stopped. Each
 * attempt has its own registry gateway (over the same database), so the calls of each are known.
 */
describe('fencing: a paused attempt whose chunk was taken over', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let regB: ScriptedRegistry;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({
      worker: false,
      config: { WORKER_LOCK_MS: 1000, CHUNK_SIZE: 20 },
      registry: (db) => (regB = new ScriptedRegistry(db)),
    });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  const kindFor = (kind: string) => kindOf(sys.rt.deps.kinds, kind);

  async function lockedJob(prefix: string, n: number) {
    const domains = names(prefix, n);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { id: res.body.id as string, domains };
  }

  const domainRows = (domains: string[]) =>
    sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .orderBy('d.name')
      .select('d.name', 'r.username as owner', 'd.locked');
  const itemRows = (jobId: string) =>
    sys
      .db('bulk_job_items')
      .where({ job_id: jobId })
      .orderBy('id')
      .select('id', 'domain_name', 'status', 'reason', 'was_locked', 'relocked', 'lease_until', 'lease_owner', 'finished_at');
  const expireLeases = (jobId: string) =>
    sys
      .db('bulk_job_items')
      .where({ job_id: jobId })
      .update({ lease_until: sys.db.raw(`clock_timestamp() - interval '1 second'`) });

  it('refuses the resumed attempt: no registry call, no item written, every domain moved once and locked', async () => {
    const { id, domains } = await lockedJob('fence-zombie', 3);
    const regA = new ScriptedRegistry(sys.db);
    const depsA = { ...sys.rt.deps, registry: regA };

    // A takes the chunk, then stands still (paused) until its lease has run out.
    const takenA = (await takeChunk(depsA, kindFor, id, 0))!;
    expect(takenA.deferred.map((i) => i.domain_name).sort()).to.deep.equal(domains);
    await expireLeases(id);

    // B takes the chunk over as stalled and finishes it: unlock, push, relock, the job ends.
    const outcomeB = await processChunk(sys.rt.deps, id, 0);
    expect(outcomeB.counts).to.deep.include({ pushed: 3 });
    expect((await sys.db('bulk_jobs').where({ id }).first('status')).status).to.equal('completed');
    const afterB = await itemRows(id);
    expect(afterB.every((i) => i.status === 'pushed' && i.was_locked && i.relocked && i.lease_until === null)).to.equal(true);
    expect(afterB.every((i) => i.lease_owner !== takenA.owner)).to.equal(true);

    // A resumes: its lease renewal finds nothing it still holds, and its deferred step is refused.
    let renewals = 0;
    const onResponse = (_r: unknown, q: { sql?: string }) => {
      if (/^update "bulk_job_items" set "lease_until" = (now|clock_timestamp)\(\) \+/.test(q.sql ?? '')) renewals++;
    };
    sys.db.on('query-response', onResponse);
    const endLeaseA = keepLease(depsA, takenA.deferred);
    await waitUntil(() => renewals >= 2, { label: 'two lease renewals by A' });
    sys.db.off('query-response', onResponse);
    const later = await kindOf(sys.rt.deps.kinds, 'push').handler.deferred!(depsA, takenA.job, takenA.deferred);
    await endLeaseA();

    expect(later, 'A decided nothing').to.deep.equal({});
    expect(regA.calls, 'A never called the registry').to.deep.equal([]);
    expect(await itemRows(id), 'the items stay as B left them').to.deep.equal(afterB);
    for (const d of await domainRows(domains)) expect(d, d.name).to.include({ owner: 'gaining', locked: true });
    const billed = await sys.db('billing_events').where({ job_id: id }).groupBy('domain_id', 'kind').select('kind').count('* as n');
    expect(billed).to.have.length(6);
    expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
    expect(await unlockedPastBound(sys.db, 0)).to.equal(0);
    expect(regB.calls.filter((c) => domains.includes(c.domain) && c.op === 'unlock')).to.have.length(3);
  });

  it('refuses an attempt whose lease ran out while it was paused, even before anyone took over; the chunk is taken again', async () => {
    const { id, domains } = await lockedJob('fence-expired', 2);
    const regA = new ScriptedRegistry(sys.db);
    const depsA = { ...sys.rt.deps, registry: regA };
    const takenA = (await takeChunk(depsA, kindFor, id, 0))!;
    await expireLeases(id);
    const refusal = await kindOf(sys.rt.deps.kinds, 'push').handler.deferred!(depsA, takenA.job, takenA.deferred).then(
      () => null,
      (err: Error) => err,
    );
    expect(refusal?.name, 'ends as retry-later, without using up an attempt').to.equal('TransientFault');
    expect(regA.calls, 'A never called the registry').to.deep.equal([]);
    for (const d of await domainRows(domains)) expect(d, d.name).to.include({ owner: 'losing', locked: true });
    // The retry is a new attempt: it takes the items over and finishes them.
    expect((await processChunk(sys.rt.deps, id, 0)).counts).to.deep.include({ pushed: 2 });
    for (const d of await domainRows(domains)) expect(d, d.name).to.include({ owner: 'gaining', locked: true });
  });

  it('makes no unlock call that comes due after the chunk was taken over (calls queued behind a slow registry)', async () => {
    // 18 domains, 16 per-domain calls in flight: the last two wait for a slot.
    const { id, domains } = await lockedJob('fence-queued', 18);
    const regA = new ScriptedRegistry(sys.db);
    const depsA = { ...sys.rt.deps, registry: regA };
    const releaseA = regA.holdUnlocks(domains.slice(0, 16));
    const takenA = (await takeChunk(depsA, kindFor, id, 0))!;
    const stepA = kindOf(sys.rt.deps.kinds, 'push').handler.deferred!(depsA, takenA.job, takenA.deferred).then(
      () => null,
      (err: Error) => err,
    );
    const claimedAt = await waitUntil(
      async () => (await sys.db('registry_lock_events').where({ owner: takenA.owner, phase: 'intent' }).min('at as at').first())?.at,
      { label: "A's claim" },
    );
    // A's lease runs out; B takes the chunk over and ends the job.
    await expireLeases(id);
    expect((await processChunk(sys.rt.deps, id, 0)).counts).to.deep.include({ pushed: 18 });
    // Long enough after A's claim that its next call checks the claim again (a third of the lease).
    await waitUntil(
      async () =>
        (await sys.db.raw(`select clock_timestamp() - ?::timestamptz > interval '400 milliseconds' as past`, [claimedAt])).rows[0].past,
      { label: 'a third of the lease since the claim' },
    );
    releaseA();
    const errA = await stepA;
    expect(errA?.name).to.equal('TransientFault');
    const unlockedByA = regA.calls.filter((c) => c.op === 'unlock').map((c) => c.domain);
    expect(unlockedByA.sort(), 'the two queued calls were not made').to.deep.equal(domains.slice(0, 16));
    // A locked again what it did unlock; the ledger is closed.
    for (const d of await domainRows(domains)) expect(d, d.name).to.include({ owner: 'gaining', locked: true });
    expect(await unlockedPastBound(sys.db, 0)).to.equal(0);
    const billed = await sys.db('billing_events').where({ job_id: id }).count('* as n').first();
    expect(Number(billed!.n)).to.equal(36);
  });

  it('a take that waits longer than the lease on a row lock still commits a live lease', async () => {
    const { id, domains } = await lockedJob('fence-slowtake', 2);
    const leaseMs = sys.config.WORKER_LOCK_MS;
    // Another transaction holds one domain's row lock for longer than the lease: the take waits on it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const blocker = sys.db.transaction(async (trx) => {
      await trx('domains').where({ name: domains[0] }).forUpdate().first('id');
      holding();
      await gate;
    });
    await held;
    const take = takeChunk(sys.rt.deps, kindFor, id, 0);
    const waitedSince = await waitUntil(
      async () => {
        const { rows } = await sys.db.raw(
          `select query_start from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database() and query ilike '%domains%for update%'`,
        );
        return rows[0]?.query_start as Date | undefined;
      },
      { label: 'the take waiting on the row lock' },
    );
    // Released once the take has waited longer than the whole lease (by the database's clock).
    await waitUntil(
      async () => {
        const { rows } = await sys.db.raw(`select clock_timestamp() - ?::timestamptz > (? * interval '1 millisecond') as past`, [
          waitedSince,
          leaseMs + 200,
        ]);
        return rows[0].past;
      },
      { label: 'the lease to be shorter than the wait' },
    );
    release();
    await blocker;
    const taken = (await take)!;
    expect(taken.deferred).to.have.length(2);
    const { rows } = await sys.db.raw(
      `select count(*)::int as live from bulk_job_items where job_id = ? and status = 'running' and lease_owner = ? and lease_until > clock_timestamp()`,
      [id, taken.owner],
    );
    expect(rows[0].live, 'the committed lease is still live').to.equal(2);
    // Finish the chunk so nothing stays unlocked.
    await kindOf(sys.rt.deps.kinds, 'push').handler.deferred!(sys.rt.deps, taken.job, taken.deferred);
    for (const d of await domainRows(domains)) expect(d, d.name).to.include({ owner: 'gaining', locked: true });
  });
});
