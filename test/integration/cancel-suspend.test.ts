import { expect } from 'chai';
import { jobItems } from '../../shared/bulk/unstarted';
import type { ItemRow } from '../../shared/bulk/model';
import {
  allItems,
  authorize,
  finishedJob,
  importDomains,
  makeReseller,
  names,
  submit,
  waitForJob,
  type TestReseller,
} from '../helpers/fixtures';
import { ScriptedRegistry } from '../helpers/registry';
import { csvAttachment, dbNow, itemCounts, resultsMails, sleep, waitUntil } from '../helpers/resilience';
import { startSystem, type SystemOptions, type TestSystem } from '../helpers/system';

const LOSING = 'losing';
const GAINING = 'gaining';

/**
 * A job slow enough to act on while it runs: every domain is locked (so each one costs a slow
 * registry unlock and relock), chunks of 10, one chunk at a time.
 */
async function slowSystem(extra: SystemOptions = {}) {
  let registry!: ScriptedRegistry;
  const sys = await startSystem({
    ...extra,
    config: { CHUNK_SIZE: 10, WORKER_CONCURRENCY: 1, ...extra.config },
    registry: (db) => {
      registry = new ScriptedRegistry(db);
      registry.delayMs = 40;
      return registry;
    },
  });
  const losing = await makeReseller(sys, LOSING);
  const gaining = await makeReseller(sys, GAINING);
  await authorize(sys, gaining, losing);
  return { sys, registry, losing, gaining };
}

async function submitLocked(sys: TestSystem, losing: TestReseller, prefix: string, n: number, extra: Record<string, unknown> = {}) {
  const domains = names(prefix, n);
  await importDomains(
    sys,
    domains.map((name) => ({ name, reseller: LOSING, locked: true })),
  );
  const res = await submit(sys, losing, {
    gaining_reseller: GAINING,
    domains,
    profile: { mode: 'new' },
    apply_to_locked: true,
    email_results_to: 'ops@losing.example',
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return { id: res.body.id as string, domains };
}

/** The moment we want to act in: a chunk is done and the next one is in hand (its domains may be unlocked). */
function midJob(sys: TestSystem, jobId: string) {
  return waitUntil(
    async () => {
      const c = await itemCounts(sys, jobId);
      return c.pushed >= 10 && c.running > 0 && c.pending > 0;
    },
    { timeout: 30_000, interval: 5, label: 'some items pushed and others in hand' },
  );
}

/** No chunk is waiting or in a worker's hands: whatever was queued has been looked at. */
function queueDrained(sys: TestSystem) {
  return waitUntil(
    async () => {
      const c = await sys.rt.deps.queues.bulk.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return c.waiting + c.active + c.delayed + c.prioritized === 0;
    },
    { label: 'the queue to drain' },
  );
}

/** Every item of the job, started or not (an unstarted chunk is one row of names). */
async function itemRows(sys: TestSystem, jobId: string): Promise<ItemRow[]> {
  return jobItems(sys.db, jobId).orderBy('id');
}

async function domainRows(sys: TestSystem, domains: string[]) {
  const rows = await sys
    .db('domains as d')
    .join('resellers as r', 'r.id', 'd.reseller_id')
    .whereIn('d.name', domains)
    .select('d.name', 'r.username as owner', 'd.locked');
  return new Map(rows.map((r: { name: string; owner: string; locked: boolean }) => [r.name, r]));
}

describe('cancel and suspend of a running bulk push', function () {
  this.timeout(120_000);
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;

  before(async () => {
    ({ sys, registry, losing } = await slowSystem());
  });
  after(() => sys?.stop());

  it('when a running job is cancelled, pushed items stay pushed, nothing starts after the acknowledgment, the rest is cancelled, locked domains stay locked, and the results email says cancelled', async () => {
    const domains = names('cancel-mid', 60);
    // The first chunk (chunks go in order) runs; the next one is kept in hand, at its unlock, until
    // the cancel has been answered, so the cancel always meets items in hand.
    const release = registry.holdUnlocks(domains.slice(10));
    const { id } = await submitLocked(sys, losing, 'cancel-mid', 60);
    await midJob(sys, id);

    const res = await sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    const ack = await dbNow(sys);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(['cancelling', 'cancelled']).to.include(res.body.status);
    const inHand = (await itemRows(sys, id)).filter((i) => i.status === 'running').map((i) => i.domain_name as string);
    release();
    expect(inHand, 'items in hand at the cancel').to.not.be.empty;

    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('cancelled');

    const items = await itemRows(sys, id);
    expect(items).to.have.length(60);
    for (const i of items) {
      expect(['pushed', 'cancelled'], `${i.domain_name} ${i.status}`).to.include(i.status);
      if (i.started_at)
        expect(new Date(i.started_at).getTime(), `${i.domain_name} started after the cancel was acknowledged`).to.be.at.most(ack.getTime());
      if (i.status === 'cancelled') {
        expect(i.started_at, `${i.domain_name} was cancelled, so it never started`).to.equal(null);
        expect(i.reason).to.equal('cancelled');
      }
    }
    const pushed = items.filter((i) => i.status === 'pushed');
    const cancelled = items.filter((i) => i.status === 'cancelled');
    expect(pushed.length).to.be.at.least(10);
    expect(cancelled.length).to.be.greaterThan(0);
    expect(pushed.length + cancelled.length).to.equal(60);
    const c = job.counts;
    expect(c.pending + c.running + c.pushed + c.skipped + c.failed + c.cancelled).to.equal(job.total);
    expect(c).to.include({ pending: 0, running: 0, pushed: pushed.length, cancelled: cancelled.length });

    const state = await domainRows(sys, domains);
    for (const i of pushed) {
      expect(state.get(i.domain_name), i.domain_name).to.deep.include({ owner: GAINING, locked: true });
      expect(i).to.include({ was_locked: true, relocked: true });
    }
    for (const i of cancelled) expect(state.get(i.domain_name), i.domain_name).to.deep.include({ owner: LOSING, locked: true });
    for (const name of inHand) {
      expect(items.find((i) => i.domain_name === name)!.status, `${name} was in hand at the cancel and finishes`).to.equal('pushed');
    }
    // Nothing in the cancelled part was ever unlocked.
    const touched = new Set(registry.calls.filter((k) => k.op === 'unlock').map((k) => k.domain));
    for (const i of cancelled) expect(touched.has(i.domain_name), `${i.domain_name} unlocked`).to.equal(false);

    const mail = await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    expect(mail.subject).to.match(new RegExp(`: cancelled after ${pushed.length} of 60 pushed$`));
    expect(mail.text).to.include('cancelled');
    const csv = csvAttachment(mail);
    expect(csv).to.have.length(60);
    const byDomain = new Map(items.map((i) => [i.domain_name, i]));
    for (const row of csv) expect(row.status, row.domain).to.equal(byDomain.get(row.domain)!.status);
  });

  it('when a finished job is cancelled, the request is refused with job_finished', async () => {
    const { id } = await finishedJob(sys, losing, GAINING, { n: 20, locked: true, cancel: true });
    const res = await sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('job_finished');
  });

  it('when a running job is suspended, no item starts until it is resumed, and then every item is done exactly once', async () => {
    registry.calls.length = 0;
    // As for the cancel: the chunk after the first is kept in hand until the suspend is answered.
    const release = registry.holdUnlocks(names('suspend', 50).slice(10));
    const { id, domains } = await submitLocked(sys, losing, 'suspend', 50);
    await midJob(sys, id);

    const res = await sys.http().post(`/v1/bulk-pushes/${id}/suspend`).set('Authorization', `Bearer ${losing.key}`);
    const ack = await dbNow(sys);
    release();
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.status).to.equal('suspended');

    // Items in hand finish; then the job stands still.
    await waitUntil(async () => (await itemCounts(sys, id)).running === 0, { label: 'items in hand to finish' });
    const frozen = await itemCounts(sys, id);
    expect(frozen.pending).to.be.greaterThan(0);
    // Every queued chunk reaches the worker and finds nothing it may start.
    await queueDrained(sys);
    expect(await itemCounts(sys, id)).to.deep.equal(frozen);
    const view = await sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', `Bearer ${losing.key}`);
    expect(view.body.status).to.equal('suspended');
    const startedLate = (await itemRows(sys, id)).filter((i) => i.started_at && new Date(i.started_at) > ack);
    expect(
      startedLate.map((i) => i.domain_name),
      'items started while suspended',
    ).to.deep.equal([]);
    const pending = (await itemRows(sys, id)).filter((i) => i.status === 'pending').map((i) => i.domain_name);
    const state = await domainRows(sys, pending);
    for (const name of pending) expect(state.get(name), name).to.deep.include({ owner: LOSING, locked: true });

    const resumed = await sys.http().post(`/v1/bulk-pushes/${id}/resume`).set('Authorization', `Bearer ${losing.key}`);
    expect(resumed.status, JSON.stringify(resumed.body)).to.equal(202);
    expect(resumed.body.status).to.equal('running');

    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pending: 0, running: 0, pushed: 50, cancelled: 0, failed: 0 });
    const items = await allItems(sys, losing, id);
    for (const i of items) expect(i, i.domain).to.include({ status: 'pushed', was_locked: true, relocked: true });

    const after = await domainRows(sys, domains);
    for (const name of domains) expect(after.get(name), name).to.deep.include({ owner: GAINING, locked: true });
    // Exactly once: one unlock and one lock per domain, one push_in billing event, one new profile.
    for (const op of ['unlock', 'lock'] as const) {
      const perDomain = new Map<string, number>();
      for (const k of registry.calls.filter((k) => k.op === op && k.ok)) perDomain.set(k.domain, (perDomain.get(k.domain) ?? 0) + 1);
      expect([...perDomain.keys()].sort(), op).to.deep.equal([...domains].sort());
      expect([...new Set(perDomain.values())], `${op} calls per domain`).to.deep.equal([1]);
    }
    const billed = await sys
      .db('billing_events as b')
      .join('domains as d', 'd.id', 'b.domain_id')
      .whereIn('d.name', domains)
      .where('b.kind', 'push_in')
      .groupBy('d.name')
      .select('d.name')
      .count('* as n');
    expect(billed).to.have.length(50);
    expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
    const profiles = await sys
      .db('profiles')
      .whereIn('source_domain', domains)
      .groupBy('source_domain')
      .select('source_domain')
      .count('* as n');
    expect(profiles).to.have.length(50);
    expect(profiles.every((p) => Number(p.n) === 1)).to.equal(true);
  });

  it('when a job is not suspended, resume is refused with invalid_state', async () => {
    const { id } = await finishedJob(sys, losing, GAINING);
    const res = await sys.http().post(`/v1/bulk-pushes/${id}/resume`).set('Authorization', `Bearer ${losing.key}`);
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('invalid_state');
  });
});

/** One domain's unlock hangs, so its chunk stays in hand while the other worker slot goes idle. */
class StallingRegistry extends ScriptedRegistry {
  readonly stall = new Map<string, number>();
  async unlock(domain: string) {
    const ms = this.stall.get(domain);
    if (ms) await sleep(ms);
    return super.unlock(domain);
  }
}

describe('resume soon after suspend, with a chunk still in hand', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let registry: StallingRegistry;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({
      config: { CHUNK_SIZE: 10, WORKER_CONCURRENCY: 2 },
      registry: (db) => (registry = new StallingRegistry(db)),
    });
    losing = await makeReseller(sys, LOSING);
    const gaining = await makeReseller(sys, GAINING);
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  it('the chunk in hand is finished by the attempt holding it, not taken over by the resumed work: each domain is unlocked and locked once', async () => {
    const domains = names('quick-resume', 40);
    registry.stall.set(domains[0], 3000);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: LOSING, locked: true })),
    );
    const sub = await submit(sys, losing, { gaining_reseller: GAINING, domains, apply_to_locked: true });
    expect(sub.status).to.equal(202);
    const id = sub.body.id;
    await waitUntil(
      async () => (await sys.db('bulk_job_items').where({ job_id: id, domain_name: domains[0], status: 'running' }).first('id')) ?? null,
      { label: 'the first chunk in hand' },
    );

    const s = await sys.http().post(`/v1/bulk-pushes/${id}/suspend`).set('Authorization', `Bearer ${losing.key}`);
    expect(s.status).to.equal(202);
    // The other slot drains what was queued (nothing may start), the stalled chunk is still in hand.
    await waitUntil(
      async () => {
        const q = await sys.rt.deps.queues.bulk.getJobCounts('waiting', 'prioritized', 'active');
        return q.waiting + q.prioritized === 0 && q.active === 1;
      },
      { label: 'the queue to drain while suspended' },
    );
    const inHand = (await sys.db('bulk_job_items').where({ job_id: id, status: 'running' }).pluck('domain_name')) as string[];
    expect(inHand).to.include(domains[0]);

    const r = await sys.http().post(`/v1/bulk-pushes/${id}/resume`).set('Authorization', `Bearer ${losing.key}`);
    expect(r.status).to.equal(202);
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 40 });
    const state = await domainRows(sys, domains);
    for (const name of domains) expect(state.get(name), name).to.deep.include({ owner: GAINING, locked: true });
    for (const op of ['unlock', 'lock'] as const) {
      const perDomain = new Map<string, number>();
      for (const k of registry.calls.filter((k) => k.op === op && k.ok)) perDomain.set(k.domain, (perDomain.get(k.domain) ?? 0) + 1);
      expect(
        [...perDomain.entries()].filter(([, n]) => n !== 1),
        `domains with more than one ${op}`,
      ).to.deep.equal([]);
      expect(perDomain.size).to.equal(40);
    }
  });
});

describe('cancel of a job no worker has started', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 10 } });
    losing = await makeReseller(sys, LOSING);
    const gaining = await makeReseller(sys, GAINING);
    await authorize(sys, gaining, losing);
  });
  after(() => sys?.stop());

  it('when a queued job is cancelled, it is cancelled at once, every item is cancelled, no domain changes, and the results email still goes out', async () => {
    const domains = names('queued-cancel', 25);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: LOSING, locked: i % 3 === 0 })),
    );
    const before = await domainRows(sys, domains);
    const sub = await submit(sys, losing, {
      gaining_reseller: GAINING,
      domains,
      apply_to_locked: true,
      email_results_to: 'ops@losing.example',
    });
    expect(sub.status).to.equal(202);
    const id = sub.body.id;

    const res = await sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.status).to.equal('cancelled');
    const view = await sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', `Bearer ${losing.key}`);
    expect(view.body.status).to.equal('cancelled');
    expect(view.body.counts).to.include({ cancelled: 25, pending: 0, running: 0, pushed: 0 });
    const items = await allItems(sys, losing, id);
    expect(items.map((i) => i.status)).to.deep.equal(Array(25).fill('cancelled'));

    // The worker comes up later: it sends the email and finds nothing to push in the chunks still queued.
    await sys.startWorker();
    const mail = await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    expect(mail.subject).to.match(/: cancelled after 0 of 25 pushed$/);
    expect(csvAttachment(mail).map((r) => r.status)).to.deep.equal(Array(25).fill('cancelled'));
    await waitUntil(
      async () => {
        const c = await sys.rt.deps.queues.bulk.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
        return c.waiting + c.prioritized + c.active + c.delayed === 0;
      },
      { label: 'the queued chunks to be consumed' },
    );
    expect(await domainRows(sys, domains)).to.deep.equal(before);
    expect((await allItems(sys, losing, id)).every((i) => i.status === 'cancelled')).to.equal(true);
    expect(Number((await sys.db('billing_events').count('* as n').first())!.n)).to.equal(0);
  });
});

describe('a job left suspended past SUSPEND_TTL', function () {
  this.timeout(60_000);
  const TTL_SECONDS = 3600;
  let sys: TestSystem;
  let losing: TestReseller;
  let registry: ScriptedRegistry;
  // The app's clock, moved forward instead of waiting the TTL out.
  let ahead = 0;

  before(async () => {
    ({ sys, losing, registry } = await slowSystem({
      config: { SUSPEND_TTL_SECONDS: TTL_SECONDS },
      clock: () => new Date(Date.now() + ahead),
    }));
  });
  after(() => sys?.stop());

  it('is cancelled by the reconciler: pending items end cancelled with reason suspend_expired, pushed ones stay, and the results email goes out', async () => {
    const release = registry.holdUnlocks(names('ttl', 40).slice(10));
    const { id, domains } = await submitLocked(sys, losing, 'ttl', 40);
    await midJob(sys, id);
    const res = await sys.http().post(`/v1/bulk-pushes/${id}/suspend`).set('Authorization', `Bearer ${losing.key}`);
    release();
    expect(res.status).to.equal(202);
    await waitUntil(async () => (await itemCounts(sys, id)).running === 0, { label: 'items in hand to finish' });
    await sys.worker!.reconcileNow();
    expect((await sys.db('bulk_jobs').where({ id }).first('status')).status, 'still within the TTL').to.equal('suspended');
    ahead += (TTL_SECONDS + 1) * 1000;

    await sys.worker!.reconcileNow();
    const job = await waitForJob(sys, losing, id, ['completed', 'cancelled', 'failed'], 10_000);
    expect(job.status).to.equal('cancelled');
    const items = await itemRows(sys, id);
    const pushed = items.filter((i) => i.status === 'pushed');
    const cancelled = items.filter((i) => i.status === 'cancelled');
    expect(pushed.length).to.be.at.least(10);
    expect(cancelled.length).to.be.greaterThan(0);
    expect(pushed.length + cancelled.length).to.equal(40);
    for (const i of cancelled) expect(i.reason, i.domain_name).to.equal('suspend_expired');
    const state = await domainRows(sys, domains);
    for (const i of items)
      expect(state.get(i.domain_name), i.domain_name).to.deep.include({ owner: i.status === 'pushed' ? GAINING : LOSING, locked: true });

    const mail = await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    expect(mail.subject).to.match(new RegExp(`: cancelled after ${pushed.length} of 40 pushed$`));
    expect(csvAttachment(mail).filter((r) => r.reason === 'suspend_expired')).to.have.length(cancelled.length);
  });
});
