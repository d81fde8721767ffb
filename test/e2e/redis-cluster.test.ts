import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import pino from 'pino';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startLocalCluster, type LocalCluster } from '../helpers/redis-cluster';
import { ScriptedRegistry } from '../helpers/registry';
import { itemCounts, waitUntil } from '../helpers/resilience';
import { startSystem, type TestSystem } from '../helpers/system';

/** Every pushed domain of the job has exactly one push_out and one push_in, and is the gaining side's. */
async function pushedExactlyOnce(sys: TestSystem, jobId: string, domains: string[], locked: boolean) {
  const billed: { domain_id: number; kind: string; n: string }[] = await sys
    .db('billing_events')
    .where({ job_id: jobId })
    .groupBy('domain_id', 'kind')
    .select('domain_id', 'kind')
    .count('* as n');
  expect(billed).to.have.length(domains.length * 2);
  expect(billed.every((b) => Number(b.n) === 1)).to.equal(true);
  const state = await sys
    .db('domains as d')
    .join('resellers as r', 'r.id', 'd.reseller_id')
    .whereIn('d.name', domains)
    .select('d.name', 'r.username', 'd.locked');
  expect(state).to.have.length(domains.length);
  for (const d of state) expect(d, d.name).to.include({ username: 'gaining', locked });
}

describe('Redis Cluster: API and workers on a real three-master cluster', function () {
  this.timeout(90_000);
  let cluster: LocalCluster;
  let sys: TestSystem;
  let registry: ScriptedRegistry;
  let losing: TestReseller;
  // The system's log, kept in memory and printed only when a test fails: a cluster that misbehaves
  // on a loaded CI machine says why (CLUSTERDOWN, slot refreshes, worker errors) instead of only timing out.
  const logLines: string[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk).trimEnd());
        cb();
      },
    }),
  );

  before(async () => {
    cluster = await startLocalCluster(3);
    sys = await startSystem({
      // No REDIS_URL: every connection (producer, worker, readiness) is an ioredis Cluster.
      config: {
        REDIS_URL: undefined,
        REDIS_CLUSTER_NODES: cluster.nodes,
        CHUNK_SIZE: 10,
        WORKER_CONCURRENCY: 2,
        RECONCILE_INTERVAL_MS: 500,
      },
      registry: (db) => (registry = new ScriptedRegistry(db)),
      log,
    });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.error(`--- system log (${logLines.length} lines) ---\n${logLines.slice(-300).join('\n')}\n--- end of log ---`);
    }
    logLines.length = 0;
  });
  after(async () => {
    await sys?.stop().catch(() => undefined);
    await cluster?.stop();
  });

  it('connects through the cluster, reports ready, and a push completes with all its queue keys in the hash slot of QUEUE_PREFIX', async () => {
    expect(sys.rt.deps.redis).to.be.instanceOf(Cluster);
    const ready = await sys.http().get('/readyz');
    expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
    expect(ready.body.checks).to.deep.equal({ postgres: 'ok', redis: 'ok' });

    const domains = names('cluster-push', 60);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, profile: { mode: 'new' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 60, pending: 0, running: 0, failed: 0 });
    await pushedExactlyOnce(sys, res.body.id, domains, false);

    // The hash tag puts every BullMQ key of the queue on the one master that owns its slot.
    const owner = await cluster.masterOf(sys.config.QUEUE_PREFIX!);
    for (const port of cluster.ports) {
      const redis = (sys.rt.deps.redis as Cluster).nodes('master').find((n) => n.options.port === port)!;
      const [, keys] = await redis.scan('0', 'MATCH', `${sys.config.QUEUE_PREFIX}*`, 'COUNT', 10_000);
      if (port === owner) expect(keys, `keys on the owner ${port}`).to.not.be.empty;
      else expect(keys, `keys on ${port}`).to.be.empty;
    }
  });

  it('when the master holding the queue crashes mid-job and comes back empty, the job completes and every domain is pushed exactly once', async () => {
    const domains = names('cluster-crash', 80);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: true })),
    );
    // Slow registry calls keep the job running long enough to crash the master in the middle of it.
    registry.delayMs = 20;
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const id = res.body.id as string;
    const generation = async () => Number((await sys.db('bulk_jobs').where({ id }).first('generation')).generation);
    const submitted = await generation();
    await waitUntil(
      'some items pushed and others still pending',
      async () => {
        const c = await itemCounts(sys, id);
        return c.pushed >= 10 && c.pending > 0;
      },
      30_000,
      5,
    );

    const owner = await cluster.masterOf(sys.config.QUEUE_PREFIX!);
    await cluster.kill(owner);
    await cluster.start(owner);
    await cluster.waitHealthy();
    registry.delayMs = 0;

    // Postgres is the truth: the reconciler (every 500 ms here) re-enqueues what is unfinished.
    const job = await waitForJob(sys, losing, id, ['completed', 'cancelled', 'failed'], 60_000);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: 80, pending: 0, running: 0, failed: 0 });
    // The restarted master came back without the queue (no persistence, no replica): the chunks
    // were enqueued again from Postgres under a new generation.
    expect(await generation()).to.be.greaterThan(submitted);
    const items: { domain_name: string; status: string; was_locked: boolean; relocked: boolean }[] = await sys
      .db('bulk_job_items')
      .where({ job_id: id });
    for (const i of items) expect(i, i.domain_name).to.include({ status: 'pushed', was_locked: true, relocked: true });
    await pushedExactlyOnce(sys, id, domains, true);

    // And the system keeps working on the restarted cluster: the API is ready and a new push completes.
    await waitUntil('readyz 200 after the restart', async () => (await sys.http().get('/readyz')).status === 200, 20_000, 100);
    const more = names('cluster-after', 20);
    await importDomains(
      sys,
      more.map((name) => ({ name, reseller: 'losing' })),
    );
    const again = await submit(sys, losing, { gaining_reseller: 'gaining', domains: more });
    expect(again.status, JSON.stringify(again.body)).to.equal(202);
    const second = await waitForJob(sys, losing, again.body.id);
    expect(second.counts).to.include({ pushed: 20, pending: 0, running: 0, failed: 0 });
    await pushedExactlyOnce(sys, again.body.id, more, false);
  });
});
