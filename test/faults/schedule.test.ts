import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../../api/app';
import { createRuntime } from '../../app/runtime';
import { expectPushPromiseKept } from './helpers/invariants';
import { dumpWorkers, lockedDomains, parties } from './helpers/scenario';
import { startFaultSystem, type FaultSystem } from './helpers/system';
import { submit, type TestReseller } from '../helpers/fixtures';
import { waitUntil } from '../helpers/resilience';

const SCHEDULER = { SCHEDULER_INTERVAL_MS: '200' };

/**
 * A job waiting in its grace window (or for its schedule) lives in Postgres alone. Whatever is
 * restarted or killed during the wait, it is not lost, does not start early, and starts once.
 */
describe('faults: restarts while pushes wait for their start (own Postgres and redis-server)', function () {
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

  async function waitingPush(http: () => request.Agent | ReturnType<typeof request>, domains: string[], seconds: number) {
    const res = await submit({ http } as never, losing, {
      gaining_reseller: 'gaining',
      domains,
      apply_to_locked: true,
      start_after_seconds: seconds,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.status).to.equal('scheduled');
    return { id: res.body.id as string, startAt: new Date(res.body.start_at).getTime() };
  }

  /** Started once, not before its time: the job and each of its items, and one start in the workers' logs. */
  async function expectStartedOnceOnTime(jobs: { id: string; startAt: number }[]) {
    for (const job of jobs) {
      const row = await sys.db('bulk_jobs').where({ id: job.id }).first('started_at', 'start_at');
      expect(new Date(row.start_at).getTime()).to.equal(job.startAt);
      expect(new Date(row.started_at).getTime(), `job ${job.id} started before its start_at`).to.be.at.least(job.startAt);
      const first = await sys.db('bulk_job_items').where({ job_id: job.id }).min('started_at as at').first();
      expect(new Date(first!.at).getTime(), `an item of ${job.id} started before its start_at`).to.be.at.least(job.startAt);
      const starts = sys.workers.flatMap((w) => w.lines).filter((l) => l.includes('scheduled bulk job started') && l.includes(job.id));
      expect(starts, `starts of ${job.id}`).to.have.length(1);
    }
  }

  it('API, workers, Redis and Postgres restarted in the window: no job lost, none started early, none twice', async () => {
    sys.spawnWorker(SCHEDULER);
    sys.spawnWorker(SCHEDULER);
    const a = await lockedDomains(sys, 'window-a', 60);
    const b = await lockedDomains(sys, 'window-b', 60);
    const c = await lockedDomains(sys, 'window-c', 60);
    const jobs = [await waitingPush(sys.http, a.domains, 20), await waitingPush(sys.http, b.domains, 22)];

    // An API process that takes a job and is then stopped for good, inside the job's window.
    const rt2 = await createRuntime(sys.config, { role: 'test-api-2' });
    const server2: Server = createApp(rt2.deps).listen(0, '127.0.0.1');
    await new Promise((r) => server2.once('listening', r));
    const url2 = `http://127.0.0.1:${(server2.address() as AddressInfo).port}`;
    jobs.push(await waitingPush(() => request(url2), c.domains, 24));
    await new Promise((r) => {
      server2.close(r);
      server2.closeAllConnections();
    });
    await rt2.close();

    // Every worker killed and replaced, Redis restarted without its data, Postgres restarted.
    await sys.killWorkers();
    sys.spawnWorker(SCHEDULER);
    sys.spawnWorker(SCHEDULER);
    await sys.redis.stop({ keepData: false });
    await sys.redis.start();
    await sys.pg.restartFast();
    const firstStart = Math.min(...jobs.map((j) => j.startAt));
    expect(Date.now(), 'the faults happened inside the window').to.be.below(firstStart);
    const waiting = await sys
      .db('bulk_jobs')
      .whereIn(
        'id',
        jobs.map((j) => j.id),
      )
      .pluck('status');
    expect(waiting).to.deep.equal(['scheduled', 'scheduled', 'scheduled']);

    const domains = [...a.domains, ...b.domains, ...c.domains];
    const originallyLocked = new Set([...a.locked, ...b.locked, ...c.locked]);
    await expectPushPromiseKept(sys, {
      jobs: jobs.map((j) => ({ id: j.id, applyToLocked: true })),
      domains,
      originallyLocked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    await expectStartedOnceOnTime(jobs);
  });

  it('a start time that passes while no worker runs is not lost: the next worker starts the job at once, once', async () => {
    const { domains, locked } = await lockedDomains(sys, 'no-worker', 40);
    const job = await waitingPush(sys.http, domains, 2);
    await waitUntil('the start time to pass with no worker', () => Date.now() > job.startAt + 1_000, 10_000, 50);
    expect((await sys.db('bulk_jobs').where({ id: job.id }).first('status')).status).to.equal('scheduled');
    sys.spawnWorker(SCHEDULER);
    sys.spawnWorker(SCHEDULER);
    await expectPushPromiseKept(sys, {
      jobs: [{ id: job.id, applyToLocked: true }],
      domains,
      originallyLocked: locked,
      losing: 'losing',
      gaining: 'gaining',
      allPushed: true,
    });
    await expectStartedOnceOnTime([job]);
  });
});
