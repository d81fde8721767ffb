import { expect } from 'chai';
import { allItems, authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { BatchScriptedRegistry, ScriptedRegistry } from '../helpers/registry';
import { dumpPostgres, dumpRedis, itemCounts, loseRedisData, prefixKeys, relayRuns, resultsMails, waitUntil } from '../helpers/resilience';
import { toText } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';
import { onChunkExhausted } from '../../worker/processors';

async function parties(sys: TestSystem) {
  const losing = await makeReseller(sys, 'losing');
  const gaining = await makeReseller(sys, 'gaining');
  await authorize(sys, gaining, losing);
  return { losing, gaining };
}

async function domainState(sys: TestSystem, name: string) {
  return (await sys
    .db('domains as d')
    .join('resellers as r', 'r.id', 'd.reseller_id')
    .where('d.name', name)
    .first('r.username as owner', 'd.locked')) as {
    owner: string;
    locked: boolean;
  };
}

async function item(sys: TestSystem, jobId: string, domain: string) {
  return sys.db('bulk_job_items').where({ job_id: jobId, domain_name: domain }).first();
}

// Every registry failure is tried against both forms of the gateway: per-domain calls (16 in
// flight) and the optional bulk calls, one per chunk, with refusals per domain.
for (const [form, Registry] of [
  ['per-domain calls', ScriptedRegistry],
  ['bulk calls', BatchScriptedRegistry],
] as const) {
  describe(`registry failures around unlock and relock (${form})`, function () {
    this.timeout(120_000);
    let sys: TestSystem;
    let registry: ScriptedRegistry;
    let losing: TestReseller;

    before(async () => {
      sys = await startSystem({ registry: (db) => (registry = new Registry(db)) });
      ({ losing } = await parties(sys));
      await importDomains(sys, [
        { name: 'relock-flaky.example', reseller: 'losing', locked: true },
        { name: 'relock-down.example', reseller: 'losing', locked: true },
        { name: 'relock-down-peer.example', reseller: 'losing', locked: true },
        { name: 'unlock-down.example', reseller: 'losing', locked: true },
        { name: 'unlock-flaky.example', reseller: 'losing', locked: true },
      ]);
    });
    after(() => sys?.stop());

    const push = async (domains: string[]) => {
      const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      return res.body.id as string;
    };

    it('when the registry fails the relock a few times, the relock is retried and the pushed domain ends locked', async () => {
      registry.failNext('relock-flaky.example', 'lock', 2);
      const id = await push(['relock-flaky.example']);
      const job = await waitForJob(sys, losing, id);
      expect(job.status).to.equal('completed');
      expect(await item(sys, id, 'relock-flaky.example')).to.include({ status: 'pushed', was_locked: true, relocked: true });
      expect(await domainState(sys, 'relock-flaky.example')).to.deep.equal({ owner: 'gaining', locked: true });
      expect(registry.calls.filter((c) => c.domain === 'relock-flaky.example' && c.op === 'lock').map((c) => c.ok)).to.deep.equal([
        false,
        false,
        true,
      ]);
    });

    it('when the registry keeps failing the relock, the job does not end while the domain is unlocked, and ends once the reconciler has locked it', async () => {
      registry.failNext('relock-down.example', 'lock', 50);
      const id = await push(['relock-down.example', 'relock-down-peer.example']);

      // Past the in-process retries and at least one BullMQ retry of the chunk.
      await waitUntil(
        async () => registry.calls.filter((c) => c.domain === 'relock-down.example' && c.op === 'lock' && !c.ok).length >= 8,
        {
          timeout: 60_000,
          interval: 50,
          label: 'repeated failed relocks',
        },
      );
      expect(await item(sys, id, 'relock-down.example')).to.include({ status: 'pushed', was_locked: true, relocked: false });
      expect(await domainState(sys, 'relock-down.example')).to.deep.equal({ owner: 'gaining', locked: false });
      expect(await domainState(sys, 'relock-down-peer.example')).to.deep.equal({ owner: 'gaining', locked: true });
      const meanwhile = await sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', `Bearer ${losing.key}`);
      expect(meanwhile.body.status, 'a job with a domain still unlocked has not ended').to.equal('running');
      expect(meanwhile.body.counts).to.include({ pushed: 2, pending: 0, running: 0 });

      registry.failures.delete('relock-down.example');
      await sys.worker!.reconcileNow();
      const job = await waitForJob(sys, losing, id);
      expect(job.status).to.equal('completed');
      expect(await item(sys, id, 'relock-down.example')).to.include({ status: 'pushed', was_locked: true, relocked: true });
      expect(await domainState(sys, 'relock-down.example')).to.deep.equal({ owner: 'gaining', locked: true });
      expect(job.counts).to.include({ pushed: 2, failed: 0 });
    });

    it('when the registry briefly fails the unlock, the unlock is retried and the domain is pushed and locked again', async () => {
      registry.failNext('unlock-flaky.example', 'unlock', 2);
      const id = await push(['unlock-flaky.example']);
      expect((await waitForJob(sys, losing, id)).status).to.equal('completed');
      expect(await item(sys, id, 'unlock-flaky.example')).to.include({ status: 'pushed', was_locked: true, relocked: true });
      expect(await domainState(sys, 'unlock-flaky.example')).to.deep.equal({ owner: 'gaining', locked: true });
    });

    it('when the registry keeps failing the unlock, the item fails with a registry error, the domain stays locked with the losing reseller, and the job completes', async () => {
      registry.failNext('unlock-down.example', 'unlock', 50);
      const id = await push(['unlock-down.example']);
      const job = await waitForJob(sys, losing, id);
      expect(job.status).to.equal('completed');
      expect(job.counts).to.include({ failed: 1, pushed: 0 });
      const [it] = await allItems(sys, losing, id);
      expect(it).to.include({ domain: 'unlock-down.example', status: 'failed', reason: 'error' });
      expect(it.message).to.match(/registry/i);
      expect(await domainState(sys, 'unlock-down.example')).to.deep.equal({ owner: 'losing', locked: true });
      expect(
        Number(
          (await sys
            .db('billing_events as b')
            .join('domains as d', 'd.id', 'b.domain_id')
            .where('d.name', 'unlock-down.example')
            .count('* as n')
            .first())!.n,
        ),
      ).to.equal(0);
      registry.failures.delete('unlock-down.example');
    });

    if (Registry === BatchScriptedRegistry) {
      it('a chunk goes to a registry with bulk calls as one unlock call and one lock call', async () => {
        const domains = names('bulk-call', 5);
        await importDomains(
          sys,
          domains.map((name) => ({ name, reseller: 'losing', locked: true })),
        );
        const id = await push(domains);
        expect((await waitForJob(sys, losing, id)).counts).to.include({ pushed: 5, failed: 0 });
        const batches = (registry as BatchScriptedRegistry).batches.filter((b) => b.domains.some((d) => domains.includes(d)));
        expect(batches.map((b) => [b.op, [...b.domains].sort()])).to.deep.equal([
          ['unlock', [...domains].sort()],
          ['lock', [...domains].sort()],
        ]);
        for (const d of domains) expect(await domainState(sys, d)).to.deep.equal({ owner: 'gaining', locked: true });
      });
    }
  });
}

describe('SMTP outage', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem();
    ({ losing } = await parties(sys));
  });
  after(() => sys?.stop());

  it('when SMTP refuses mail, the push completes anyway, the results email waits in the outbox, and is delivered exactly once when SMTP is back', async () => {
    const domains = names('smtp-down', 20);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing' })),
    );
    sys.smtp.refuse = true;
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, email_results_to: 'ops@losing.example' });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 20 });
    for (const name of domains) expect((await domainState(sys, name)).owner).to.equal('gaining');

    const row = await waitUntil(
      async () => {
        const r = await sys
          .db('outbound_emails')
          .where({ dedupe_key: `results:${id}` })
          .first();
        return r && r.attempts >= 1 && r.last_error ? r : null;
      },
      { label: 'a failed send attempt' },
    );
    expect(row.sent_at).to.equal(null);
    expect(resultsMails(sys, id)).to.have.length(0);

    sys.smtp.refuse = false;
    // Skip the backoff instead of waiting it out.
    await sys.db('outbound_emails').where({ id: row.id }).update({ next_attempt_at: sys.db.fn.now() });
    await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    await relayRuns(sys, 3); // several relay runs: a second copy would show up here
    expect(resultsMails(sys, id)).to.have.length(1);
    const sent = await sys.db('outbound_emails').where({ id: row.id }).first();
    expect(sent.sent_at).to.not.equal(null);
    expect(sent.attempts).to.be.at.least(2);
  });
});

describe('Redis loses its data', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 25 } });
    ({ losing } = await parties(sys));
  });
  after(() => sys?.stop());

  it('when Redis is emptied before any worker ran, the reconciler re-enqueues the job from Postgres and every domain is pushed exactly once', async () => {
    const domains = names('redis-lost', 120);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: 'losing', locked: i % 4 === 0 })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true, profile: { mode: 'new' } });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    // Chunks carry fair-share priorities, so they wait in BullMQ's prioritized set.
    const queued = await sys.rt.deps.queues.bulk.getJobCounts('waiting', 'prioritized');
    expect(queued.waiting + queued.prioritized).to.equal(5);

    expect(await loseRedisData(sys)).to.be.greaterThan(0);
    expect(await prefixKeys(sys)).to.deep.equal([]);

    await sys.startWorker();
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 120, pending: 0, running: 0, failed: 0 });

    const billed = await sys
      .db('billing_events as b')
      .join('domains as d', 'd.id', 'b.domain_id')
      .whereIn('d.name', domains)
      .groupBy('d.name', 'b.kind')
      .select('d.name', 'b.kind')
      .count('* as n');
    expect(billed.filter((b) => b.kind === 'push_in')).to.have.length(120);
    expect(billed.filter((b) => b.kind === 'push_out')).to.have.length(120);
    expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
    const profiles = await sys
      .db('profiles')
      .whereIn('source_domain', domains)
      .groupBy('source_domain')
      .select('source_domain')
      .count('* as n');
    expect(profiles).to.have.length(120);
    expect(profiles.every((p) => Number(p.n) === 1)).to.equal(true);
    const state = await sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .select('d.name', 'r.username', 'd.locked');
    for (const d of state) {
      expect(d.username, d.name).to.equal('gaining');
      expect(d.locked, d.name).to.equal(domains.indexOf(d.name) % 4 === 0);
    }
  });
});

describe('Redis loses its data while a job runs', function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({
      config: { CHUNK_SIZE: 10, WORKER_CONCURRENCY: 2 },
      registry: (db) => {
        registry = new ScriptedRegistry(db);
        registry.delayMs = 20;
        return registry;
      },
    });
    ({ losing } = await parties(sys));
  });
  after(() => sys?.stop());

  it('when Redis is emptied mid-job, the reconciler re-enqueues what is unfinished and every domain is pushed exactly once and ends locked', async () => {
    const domains = names('redis-flush', 80);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    const res = await submit(sys, losing, {
      gaining_reseller: 'gaining',
      domains,
      apply_to_locked: true,
      email_results_to: 'ops@losing.example',
    });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    await waitUntil(
      async () => {
        const c = await itemCounts(sys, id);
        return c.pushed >= 10 && c.running > 0 && c.pending > 0;
      },
      { timeout: 30_000, interval: 5, label: 'some items pushed and others in hand' },
    );

    expect(await loseRedisData(sys)).to.be.greaterThan(0);
    await sys.worker!.reconcileNow();
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 80, pending: 0, running: 0, failed: 0 });

    const items = await sys.db('bulk_job_items').where({ job_id: id });
    for (const i of items) expect(i, i.domain_name).to.include({ status: 'pushed', was_locked: true, relocked: true });
    const state = await sys
      .db('domains as d')
      .join('resellers as r', 'r.id', 'd.reseller_id')
      .whereIn('d.name', domains)
      .select('d.name', 'r.username', 'd.locked');
    for (const d of state) expect(d, d.name).to.include({ username: 'gaining', locked: true });
    const billed = await sys
      .db('billing_events')
      .where({ job_id: id })
      .groupBy('domain_id', 'kind')
      .select('domain_id', 'kind')
      .count('* as n');
    expect(billed).to.have.length(160);
    expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
    const profiles = await sys.db('profiles').whereIn('source_domain', domains).select('source_domain');
    expect(profiles).to.have.length(80);
    await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    await relayRuns(sys, 3);
    expect(resultsMails(sys, id)).to.have.length(1);
  });

  it('when Redis is emptied mid-job, a domain in hand is not unlocked a second time by the re-enqueued chunk', async () => {
    const domains = names('redis-lease', 60);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    await waitUntil(
      async () => {
        const c = await itemCounts(sys, id);
        return c.running > 0 && c.pending > 0;
      },
      { timeout: 30_000, interval: 5, label: 'some items in hand' },
    );

    expect(await loseRedisData(sys)).to.be.greaterThan(0);
    await sys.worker!.reconcileNow();
    const job = await waitForJob(sys, losing, id, undefined, 60_000);
    expect(job.counts).to.include({ pushed: 60, pending: 0, running: 0, failed: 0 });
    for (const name of domains) {
      const calls = registry.calls.filter((c) => c.domain === name && c.ok).map((c) => c.op);
      expect(calls, name).to.deep.equal(['unlock', 'lock']);
    }
    const state = await sys.db('domains').whereIn('name', domains).select('name', 'locked');
    for (const d of state) expect(d, d.name).to.include({ locked: true });
  });
});

describe('the existing-profile password', function () {
  this.timeout(60_000);
  const PASSWORD = 'Sup3r-S3cret-Pw-XYZ';
  let sys: TestSystem;
  let losing: TestReseller;
  let gaining: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 10 } });
    ({ losing, gaining } = await parties(sys));
    await sys
      .http()
      .put('/v1/push-settings/notification-email')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ email: 'in@gaining.example' });
    const p = await sys
      .http()
      .post('/v1/profiles')
      .set('Authorization', `Bearer ${gaining.key}`)
      .send({ domain: 'gaining-home.example', username: 'bob', password: PASSWORD, contact: { email: 'bob@gaining.example' } });
    expect(p.status, JSON.stringify(p.body)).to.equal(201);
  });
  after(() => sys?.stop());

  async function leaks(where: string) {
    const found: string[] = [];
    for (const r of await dumpPostgres(sys)) if (r.text.includes(PASSWORD)) found.push(`postgres ${r.table}: ${r.text.slice(0, 200)}`);
    for (const r of await dumpRedis(sys)) if (r.text.includes(PASSWORD)) found.push(`redis ${r.text.slice(0, 200)}`);
    expect(found, `password found ${where}`).to.deep.equal([]);
  }

  it('is checked at submit and then found nowhere: not in any Postgres table, any Redis key, or any email', async () => {
    const domains = names('secret', 30);
    await importDomains(
      sys,
      domains.map((name, i) => ({ name, reseller: 'losing', locked: i % 3 === 0 })),
    );
    const body = {
      gaining_reseller: 'gaining',
      domains,
      apply_to_locked: true,
      profile: { mode: 'existing', domain: 'gaining-home.example', username: 'bob', password: PASSWORD },
      email_results_to: 'ops@losing.example',
    };
    const res = await submit(sys, losing, body, { 'Idempotency-Key': 'secret-push-1' });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(JSON.stringify(res.body)).to.not.include(PASSWORD);
    const id = res.body.id;

    // While the work sits in Redis, before any worker has touched it.
    expect((await dumpRedis(sys)).length).to.be.greaterThan(0);
    await leaks('after submit');

    await sys.startWorker();
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 30 });
    expect(JSON.stringify(job)).to.not.include(PASSWORD);
    const replay = await submit(sys, losing, body, { 'Idempotency-Key': 'secret-push-1' });
    expect(replay.status).to.equal(200);
    expect(JSON.stringify(replay.body)).to.not.include(PASSWORD);
    const bob = await sys.db('profiles').where({ reseller_id: gaining.id, username: 'bob' }).first('id');
    const attached = await sys.db('domains').whereIn('name', domains).pluck('profile_id');
    expect(attached.map(Number)).to.deep.equal(Array(30).fill(Number(bob.id)));

    await sys.smtp.waitFor((m) => resultsMails(sys, id).includes(m));
    await sys.smtp.waitFor((m) => toText(m) === 'in@gaining.example');
    await leaks('after the job');
    for (const m of sys.smtp.messages) {
      const whole = [m.subject, m.text, m.html || '', ...m.attachments.map((a) => a.content.toString('utf8'))].join('\n');
      expect(whole, `email "${m.subject}"`).to.not.include(PASSWORD);
    }
  });
});

describe('a chunk whose retries run out', function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let losing: TestReseller;

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 5 } });
    ({ losing } = await parties(sys));
  });
  after(() => sys?.stop());

  it('fails its unfinished items with the error; the job ends failed with every item accounted for, and the results email says so', async () => {
    const domains = names('exhausted', 10);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, email_results_to: 'ops@losing.example' });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    // BullMQ gave up on chunk 1 (attempts exhausted); chunk 0 is then done by a worker.
    // Only the fields onChunkExhausted reads: a whole BullMQ Job needs a live queue.
    const exhausted = { name: 'push-chunk', data: { jobId: id, chunk: 1 } } as unknown as Parameters<typeof onChunkExhausted>[1];
    await onChunkExhausted(sys.rt.deps, exhausted, new Error('database timeout'));
    await sys.startWorker();
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('failed');
    expect(job.counts).to.include({ pushed: 5, failed: 5, pending: 0, running: 0 });
    expect(job.error).to.match(/database timeout/);
    const failed = (await allItems(sys, losing, id)).filter((i) => i.status === 'failed');
    expect(failed.map((i) => i.domain)).to.deep.equal(domains.slice(5));
    for (const i of failed) {
      expect(i.reason).to.equal('error');
      expect(i.message).to.match(/retries exhausted: database timeout/);
    }
    const mail = await sys.smtp.waitFor((m) => m.subject?.includes('Bulk push to') ?? false);
    expect(mail.subject).to.match(/: failed with 5 failures \(5 of 10 pushed\)$/);
    expect(mail.text).to.match(/The job failed after retries/);
    expect(mail.attachments[0].content.toString().trim().split('\n')).to.have.length(11);
  });
});
