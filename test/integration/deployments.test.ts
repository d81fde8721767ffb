import { expect } from 'chai';
import { loadConfig } from '../../shared/platform/config';
import { deploymentId, ownerKey, prefixFor, QueuePrefixTaken } from '../../shared/platform/deployment';
import { createRuntime } from '../../app/runtime';
import { createTestDb, type TestDb } from '../helpers/db';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { OPERATOR_KEY, REDIS_URL, startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * Two deployments (two databases) on one Redis, each with the default queue prefix. Before, both
 * used `{push}`: one worker took the other's chunks, found no job and completed them as "gone".
 */
describe('deployments sharing one Redis', function () {
  this.timeout(60_000);
  let a: TestSystem;
  let b: TestSystem;

  // Each database as after its own first migrate (the test template is one clone for all).
  const ownDeployment = async (db: TestSystem['db']) => {
    await db('deployment').update({ id: db.raw('gen_random_uuid()') });
  };

  before(async () => {
    a = await startSystem({ config: { QUEUE_PREFIX: undefined }, beforeStart: ownDeployment });
    b = await startSystem({ config: { QUEUE_PREFIX: undefined }, beforeStart: ownDeployment });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('each derives its own queue prefix from its deployment id, inside the hash tag', async () => {
    const pa = a.config.QUEUE_PREFIX!;
    const pb = b.config.QUEUE_PREFIX!;
    expect(pa).to.match(/^\{push-[0-9a-f]{12}\}$/);
    expect(pa).to.equal(prefixFor(await deploymentId(a.db)));
    expect(pb).to.equal(prefixFor(await deploymentId(b.db)));
    expect(pa).to.not.equal(pb);
  });

  it("never takes the other's chunks: a push on one is done by its own worker only", async () => {
    for (const sys of [a, b]) {
      const losing = await makeReseller(sys, 'losing');
      const gaining = await makeReseller(sys, 'gaining');
      await authorize(sys, gaining, losing);
      await importDomains(
        sys,
        names('dep', 250).map((name) => ({ name, reseller: 'losing' })),
      );
      Object.assign(sys, { people: { losing, gaining } });
    }
    // Only B's worker runs. A's chunks are first in line: a worker sharing A's queue would take
    // them before B's own, so once B's push is done they must still be waiting, untouched.
    await a.stopWorker();
    const people = (s: TestSystem) => (s as unknown as { people: Record<string, TestReseller> }).people;
    const res = await submit(a, people(a).losing, { gaining_reseller: 'gaining', domains: names('dep', 250) });
    expect(res.status).to.equal(202);
    const resB = await submit(b, people(b).losing, { gaining_reseller: 'gaining', domains: names('dep', 250) });
    expect((await waitForJob(b, people(b).losing, resB.body.id)).counts.pushed).to.equal(250);
    // Chunks wait in BullMQ's prioritized set (fair share between resellers), none taken.
    expect(await a.rt.deps.queues.bulk.getJobCounts('wait', 'prioritized', 'active', 'completed', 'failed')).to.deep.equal({
      wait: 0,
      prioritized: 3, // CHUNK_SIZE is 100 in tests
      active: 0,
      completed: 0,
      failed: 0,
    });
    expect((await waitForJob(a, people(a).losing, res.body.id, ['queued'])).counts.pending).to.equal(250);
    await a.startWorker();
    const job = await waitForJob(a, people(a).losing, res.body.id);
    expect(job.status).to.equal('completed');
    expect(job.counts.pushed).to.equal(250);
  });

  it('a chunk naming a job this database does not have fails visibly and is not retried', async () => {
    const stray = await a.rt.deps.queues.bulk.add('push-chunk', { jobId: '00000000-0000-4000-8000-000000000000', chunk: 1 });
    let state = '';
    await waitUntil(
      async () => {
        state = await stray.getState();
        return state === 'failed' || state === 'completed';
      },
      { timeout: 20_000, interval: 50, label: () => `the stray chunk to end (still ${state})` },
    );
    expect(state).to.equal('failed');
    const failed = (await a.rt.deps.queues.bulk.getJob(stray.id!))!;
    expect(failed.failedReason).to.match(/is not in this deployment's database/);
    expect(failed.attemptsMade).to.equal(1);
  });

  it("refuses to start on a prefix another database owns, saying how to fix it, and leaves the owner's claim", async () => {
    let other: TestDb | undefined;
    try {
      other = await createTestDb();
      const config = loadConfig(
        {},
        { DATABASE_URL: other.url, REDIS_URL, ADMIN_API_KEY: OPERATOR_KEY, QUEUE_PREFIX: a.config.QUEUE_PREFIX, LOG_LEVEL: 'silent' },
      );
      const owner = await a.rt.deps.redis.get(ownerKey(a.config.QUEUE_PREFIX!));
      let refused: unknown;
      await createRuntime(config, { role: 'test', db: other.db }).then(
        (rt) => rt.close(),
        (err) => (refused = err),
      );
      expect(refused).to.be.instanceOf(QueuePrefixTaken);
      expect((refused as Error).message)
        .to.include(a.config.QUEUE_PREFIX!)
        .and.include('redis-cli del');
      expect(await a.rt.deps.redis.get(ownerKey(a.config.QUEUE_PREFIX!))).to.equal(owner);
    } finally {
      await other?.drop();
    }
  });
});
