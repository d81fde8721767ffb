import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createApp } from '../../api/app';
import { loadConfig } from '../../shared/platform/config';
import { isEmbedded } from '../../shared/platform/db';
import { createRuntime, type Runtime } from '../../shared/platform/runtime';
import { startWorker, type WorkerRuntime } from '../../worker/runtime';
import { allItems, authorize, importDomains, makeReseller, names, submit, waitForJob } from '../helpers/fixtures';
import { startSmtp, type SmtpPeer } from '../helpers/smtp';
import { OPERATOR_KEY, REDIS_URL, type TestSystem } from '../helpers/system';

/**
 * `npm start` with no DATABASE_URL runs on embedded PGlite (one connection, one process). This is
 * the main flow once more on that path: migrations, push with locked domains, cancel, results email.
 */
describe('@pglite embedded database path (DATABASE_URL unset)', function () {
  this.timeout(120_000);
  let dir: string;
  let rt: Runtime;
  let worker: WorkerRuntime;
  let server: Server;
  let smtp: SmtpPeer;
  let sys: TestSystem;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-pglite-'));
    smtp = await startSmtp();
    const prefix = `{dptest-pglite-${process.pid}}`;
    const config = loadConfig(
      {},
      {
        DATABASE_URL: undefined,
        DATA_DIR: dir,
        REDIS_URL,
        SMTP_URL: smtp.url,
        ADMIN_API_KEY: OPERATOR_KEY,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        OUTBOX_INTERVAL_MS: 100,
        RECONCILE_INTERVAL_MS: 3_600_000,
        CHUNK_SIZE: 50,
      },
    );
    rt = await createRuntime(config, { role: 'test', migrate: true });
    expect(isEmbedded(rt.deps.db)).to.equal(true);
    worker = await startWorker(rt.deps, rt.workerRedis());
    server = createApp(rt.deps).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const request = (await import('supertest')).default;
    sys = { db: rt.deps.db, smtp, rt, config: rt.deps.config, url, http: () => request(url) } as unknown as TestSystem;
  });

  after(async () => {
    await worker?.stop();
    await new Promise((r) => {
      server?.close(r);
      server?.closeAllConnections();
    });
    const redis = rt.workerRedis();
    const keys = await redis.keys(`${rt.deps.config.QUEUE_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    await rt?.close();
    await smtp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes locked and unlocked domains, relocks, and emails the results on PGlite', async () => {
    const losing = await makeReseller(sys, 'lite-losing');
    const gaining = await makeReseller(sys, 'lite-gaining');
    await authorize(sys, gaining, losing);
    const list = names('lite', 300);
    await importDomains(
      sys,
      list.map((name, i) => ({ name, reseller: 'lite-losing', locked: i % 3 === 0, brand: i % 10 === 0 ? 'Red' : undefined })),
    );
    const res = await submit(sys, losing, {
      gaining_reseller: 'lite-gaining',
      domains: list,
      apply_to_locked: true,
      email_results_to: 'ops@lite.example',
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const job = await waitForJob(sys, losing, res.body.id, undefined, 90_000);
    expect(job.status).to.equal('completed');
    expect(job.counts.pushed).to.equal(300);
    const items = await allItems(sys, losing, res.body.id);
    expect(items.filter((i) => i.was_locked && i.relocked)).to.have.length(100);
    const locked = await sys.db('domains').where({ reseller_id: gaining.id, locked: true }).count('* as n').first();
    expect(Number(locked!.n)).to.equal(100);
    const mail = await smtp.waitFor((m) => m.subject?.includes('job completed') ?? false, 30_000);
    const csv = mail.attachments[0].content.toString();
    expect(csv.trim().split('\n')).to.have.length(301);
  });

  it('cancels a queued job on PGlite: nothing pushed, every item cancelled', async () => {
    const losing = await makeReseller(sys, 'lite-l2');
    const gaining = await makeReseller(sys, 'lite-g2');
    await authorize(sys, gaining, losing);
    const list = names('lite2', 20);
    await importDomains(
      sys,
      list.map((name) => ({ name, reseller: 'lite-l2' })),
    );
    await worker.worker.pause();
    const res = await submit(sys, losing, { gaining_reseller: 'lite-g2', domains: list });
    const cancel = await sys.http().post(`/v1/bulk-pushes/${res.body.id}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    expect(cancel.status).to.equal(202);
    expect(cancel.body.status).to.equal('cancelled');
    worker.worker.resume();
    const job = await waitForJob(sys, losing, res.body.id);
    expect(job.counts.cancelled).to.equal(20);
    expect(Number((await sys.db('domains').where({ reseller_id: losing.id }).count('* as n').first())!.n)).to.equal(20);
  });
});
