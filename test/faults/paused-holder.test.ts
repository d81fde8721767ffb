import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { createDb } from '../../shared/platform/db';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { startSystem, type TestSystem } from '../helpers/system';
import { waitUntil } from '../helpers/wait';

/**
 * A frozen process (SIGSTOP: a VM pause, a debugger, a long GC) that holds what a worker paused
 * inside its take holds (job gate, job row FOR SHARE, chunk lock, the domains' row locks) stops no
 * one for long: its session, idle inside its transaction, is cut off by Postgres after
 * PG_IDLE_IN_TRANSACTION_TIMEOUT_MS, so a cancel of its job answers and another job completes
 * within seconds of the freeze instead of waiting for as long as it is frozen.
 */
describe("a frozen holder of a job's locks is cut off: a cancel answers and another job runs within the bound", function () {
  this.timeout(90_000);
  const ROOT = path.resolve(__dirname, '../..');
  // The holder's session bounds, as createDb sets them; small so the test is short.
  const IDLE_IN_TX_MS = 1_500;
  const LOCK_MS = 3_000;
  // What a waiter may take: the holder's idle timeout, plus the time to notice and to commit.
  const CANCEL_BOUND_MS = IDLE_IN_TX_MS + 3_000;
  const JOB_BOUND_MS = IDLE_IN_TX_MS + 8_000;
  let sys: TestSystem;
  let losing: TestReseller;
  let holder: ChildProcess | undefined;

  before(async () => {
    // No worker yet: the frozen job must not have started before its locks are taken.
    sys = await startSystem({ worker: false, config: { WORKER_LOCK_MS: 10_000 } });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });
  after(async () => {
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      holder.kill('SIGCONT');
      holder.kill('SIGKILL');
    }
    await sys?.stop();
  });

  it("every session of the app's pool starts with the bounded waits (defaults: lock 10 s, statement 60 s, idle in transaction 5 s)", async () => {
    const db = createDb({ DATABASE_URL: sys.testDb.url });
    try {
      const settings = await db.raw(
        `select current_setting('lock_timeout') as lock, current_setting('statement_timeout') as statement,
                current_setting('idle_in_transaction_session_timeout') as idle`,
      );
      expect(settings.rows[0]).to.deep.equal({ lock: '10s', statement: '1min', idle: '5s' });
    } finally {
      await db.destroy();
    }
  });

  it('while the holder is frozen, the cancel of its job answers and an independent job completes, each within its bound', async () => {
    const frozen = names('frozen', 40);
    const other = names('other', 5);
    await importDomains(
      sys,
      [...frozen, ...other].map((name) => ({ name, reseller: 'losing' })),
    );
    const a = await submit(sys, losing, { gaining_reseller: 'gaining', domains: frozen, email_results_to: null });
    expect(a.status, JSON.stringify(a.body)).to.equal(202);
    const jobA = a.body.id as string;

    holder = spawn(process.execPath, ['--import', 'tsx', 'test/faults/paused-holder.child.ts', sys.testDb.url, jobA, frozen.join(',')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(IDLE_IN_TX_MS),
        PG_LOCK_TIMEOUT_MS: String(LOCK_MS),
      },
    });
    let out = '';
    holder.stdout!.on('data', (b) => (out += String(b)));
    holder.stderr!.on('data', (b) => (out += String(b)));
    await waitUntil(() => out.includes('held'), { timeout: 20_000, label: () => `the holder to take its locks (${out})` });
    const frozenAt = Date.now();
    holder.kill('SIGSTOP');

    // The workers start now and the other job is submitted during the freeze.
    await sys.startWorker();
    const b = await submit(sys, losing, { gaining_reseller: 'gaining', domains: other, email_results_to: null });
    expect(b.status, JSON.stringify(b.body)).to.equal(202);

    const cancelStarted = Date.now();
    const cancel = await sys.http().post(`/v1/bulk-pushes/${jobA}/cancel`).set('Authorization', `Bearer ${losing.key}`);
    const cancelMs = Date.now() - cancelStarted;
    expect(cancel.status, JSON.stringify(cancel.body)).to.be.oneOf([200, 202]);
    expect(cancelMs, 'ms for the cancel to answer').to.be.below(CANCEL_BOUND_MS);

    const jobB = await waitForJob(sys, losing, b.body.id, ['completed', 'cancelled', 'failed'], 30_000);
    const jobBMs = Date.now() - frozenAt;
    expect(jobB.status).to.equal('completed');
    expect(jobB.counts.pushed, JSON.stringify(jobB.counts)).to.equal(5);
    expect(jobBMs, 'ms from the freeze until the other job completed').to.be.below(JOB_BOUND_MS);
    expect((await waitForJob(sys, losing, jobA)).status).to.equal('cancelled');

    // The holder's session is gone: resumed, it finds its transaction ended, and is killed.
    const ended = await sys.db.raw(
      `select count(*)::int as n from pg_stat_activity where state like 'idle in transaction%' and datname = ?`,
      [sys.testDb.name],
    );
    expect(ended.rows[0].n, 'sessions idle in a transaction left').to.equal(0);
    holder.kill('SIGCONT');
    holder.kill('SIGKILL');
    console.log(`      (measured: cancel answered in ${cancelMs} ms, the other job completed ${jobBMs} ms after the freeze)`);
  });
});
