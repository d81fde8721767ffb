import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_NODE_ARGS } from '../../bin/worker-command';
import path from 'node:path';
import { expect } from 'chai';
import { authorize, importDomains, makeReseller, names, submit, waitForJob, type TestReseller } from '../helpers/fixtures';
import { itemCounts, waitUntil } from '../helpers/resilience';
import { OPERATOR_KEY, REDIS_URL, startSystem, type TestSystem } from '../helpers/system';
import { freePort } from '../../shared/platform/ports';

const ROOT = path.resolve(__dirname, '../..');
const SHUTDOWN_TIMEOUT_MS = 20_000;

interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The production worker (`bin/worker.ts`) as its own OS process, started the way
 * `npm run start:worker` starts it (node --import tsx), in its own process group so a signal
 * reaches all of it.
 */
function spawnWorker(sys: TestSystem, extraEnv: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, WORKER_NODE_ARGS, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: sys.testDb.url,
      REDIS_URL,
      QUEUE_PREFIX: sys.config.QUEUE_PREFIX,
      SMTP_URL: sys.smtp.url,
      ADMIN_API_KEY: OPERATOR_KEY,
      CHUNK_SIZE: '50',
      WORKER_LOCK_MS: '2000',
      WORKER_CONCURRENCY: '2',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
  });
  const output: string[] = [];
  child.stdout!.on('data', (b) => output.push(String(b)));
  child.stderr!.on('data', (b) => output.push(String(b)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

function killGroup(w: WorkerProcess, signal: NodeJS.Signals) {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  try {
    process.kill(-w.child.pid!, signal);
  } catch {
    // already gone
  }
}

describe('worker processes killed or stopped mid-job (e2e)', function () {
  this.timeout(300_000);
  let sys: TestSystem;
  let losing: TestReseller;
  const workers: WorkerProcess[] = [];

  const start = (extraEnv: Record<string, string> = {}) => {
    const w = spawnWorker(sys, extraEnv);
    workers.push(w);
    return w;
  };

  before(async () => {
    sys = await startSystem({ worker: false, config: { CHUNK_SIZE: 50 } });
    losing = await makeReseller(sys, 'losing');
    const gaining = await makeReseller(sys, 'gaining');
    await authorize(sys, gaining, losing);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const w of workers) console.error(`--- worker ${w.child.pid} output ---\n${w.output.join('').slice(-4000)}`);
    }
  });

  async function killAll() {
    for (const w of workers) killGroup(w, 'SIGKILL');
    // At most 5 s each; the timers are cleared once the workers are gone, or they hold the run open.
    const bounds: NodeJS.Timeout[] = [];
    await Promise.all(workers.map((w) => Promise.race([w.exited, new Promise((r) => bounds.push(setTimeout(r, 5000)))])));
    for (const t of bounds) clearTimeout(t);
  }

  // Each test starts with no worker alive, so the one it signals is the one doing the work.
  beforeEach(killAll);

  after(async () => {
    await killAll();
    await sys?.stop();
  });

  async function pushLocked(prefix: string, n: number) {
    const domains = names(prefix, n);
    const locked = new Set(domains.filter((_, i) => i % 3 === 0));
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing', locked: locked.has(name) })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains, apply_to_locked: true, profile: { mode: 'new' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { id: res.body.id as string, domains, locked };
  }

  /** Every domain owned by gaining exactly once: one push_in, one push_out, one new profile; locks as before. */
  async function expectPushedExactlyOnce(id: string, domains: string[], locked: Set<string>) {
    const job = await waitForJob(sys, losing, id, ['completed', 'cancelled', 'failed'], 180_000);
    expect(job.status).to.equal('completed');
    expect(job.counts).to.include({ pushed: domains.length, pending: 0, running: 0, failed: 0, skipped: 0, cancelled: 0 });

    const gainingId = (await sys.db('resellers').where({ username: 'gaining' }).first('id')).id;
    const rows = await sys.db('domains').whereIn('name', domains).select('id', 'name', 'reseller_id', 'locked', 'profile_id');
    expect(rows).to.have.length(domains.length);
    const byId = new Map(rows.map((d) => [Number(d.id), d]));
    for (const d of rows) {
      expect(Number(d.reseller_id), d.name).to.equal(Number(gainingId));
      expect(d.locked, `${d.name} lock`).to.equal(locked.has(d.name));
    }

    const billing = await sys
      .db('billing_events')
      .where({ job_id: id })
      .groupBy('domain_id', 'kind')
      .select('domain_id', 'kind')
      .count('* as n');
    for (const kind of ['push_in', 'push_out']) {
      const perDomain = billing.filter((b) => b.kind === kind);
      expect(perDomain, kind).to.have.length(domains.length);
      expect(
        perDomain.every((b) => Number(b.n) === 1 && byId.has(Number(b.domain_id))),
        `one ${kind} per domain`,
      ).to.equal(true);
    }
    expect(
      Number(
        (await sys
          .db('billing_events')
          .whereIn('domain_id', [...byId.keys()])
          .count('* as n')
          .first())!.n,
      ),
    ).to.equal(2 * domains.length);

    const profiles = await sys
      .db('profiles')
      .where({ reseller_id: gainingId })
      .whereIn('source_domain', domains)
      .select('id', 'source_domain');
    expect(profiles, 'one new profile per pushed domain').to.have.length(domains.length);
    expect(new Set(profiles.map((p) => p.source_domain)).size).to.equal(domains.length);
    const profileOf = new Map(profiles.map((p) => [p.source_domain, Number(p.id)]));
    for (const d of rows) expect(Number(d.profile_id), `${d.name} profile`).to.equal(profileOf.get(d.name));

    const items = await sys.db('bulk_job_items').where({ job_id: id }).select('domain_name', 'status', 'was_locked', 'relocked');
    for (const i of items) {
      expect(i.status, i.domain_name).to.equal('pushed');
      if (locked.has(i.domain_name)) expect(i, i.domain_name).to.include({ was_locked: true, relocked: true });
      else expect(i.was_locked ?? false, i.domain_name).to.equal(false);
    }
  }

  it('when a worker is SIGKILLed mid-job and another starts, every domain is pushed exactly once and every locked domain ends locked', async () => {
    const { id, domains, locked } = await pushLocked('kill', 3000);
    const first = start();
    // Mid-chunk: some domains pushed, others claimed and being unlocked.
    await waitUntil(
      async () => {
        const c = await itemCounts(sys, id);
        return c.pushed >= 200 && c.running > 0;
      },
      { timeout: 120_000, interval: 5, label: 'the first worker to push some domains and hold others' },
    );
    killGroup(first, 'SIGKILL');
    const died = await first.exited;
    expect(died.signal ?? died.code).to.not.equal(0);

    const midway = await itemCounts(sys, id);
    expect(midway.pushed, 'killed before the end').to.be.below(3000);
    expect(midway.running, 'items left in hand by the dead worker').to.be.greaterThan(0);

    start();
    await expectPushedExactlyOnce(id, domains, locked);
  });

  it('when a worker gets SIGTERM mid-job, it finishes the items in hand and exits 0, leaving nothing running or unlocked; a later worker completes the job', async () => {
    const { id, domains, locked } = await pushLocked('term', 1500);
    const w = start();
    await waitUntil(
      async () => {
        const c = await itemCounts(sys, id);
        return c.pushed >= 100 && c.running > 0;
      },
      { timeout: 120_000, interval: 5, label: 'the worker to push some domains and hold others' },
    );
    w.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      w.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('worker did not exit within the shutdown bound')), SHUTDOWN_TIMEOUT_MS + 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(exit, w.output.join('')).to.deep.equal({ code: 0, signal: null });

    const counts = await itemCounts(sys, id);
    expect(counts.running, 'items left running').to.equal(0);
    expect(counts.pending, 'stopped before the end').to.be.greaterThan(0);
    const unlocked = await sys
      .db('domains')
      .whereIn('name', [...locked])
      .where({ locked: false })
      .pluck('name');
    expect(unlocked, 'originally locked domains left unlocked').to.deep.equal([]);
    const owed = await sys.db('bulk_job_items').where({ job_id: id, was_locked: true }).whereNot({ relocked: true }).pluck('domain_name');
    expect(owed, 'items owing a relock').to.deep.equal([]);

    start();
    await expectPushedExactlyOnce(id, domains, locked);
  });

  it('a worker process serves what it processed at /metrics when WORKER_METRICS_PORT is set', async () => {
    const port = await freePort();
    start({ WORKER_METRICS_PORT: String(port), METRICS_TOKEN: 'metrics-token-0123456789' });
    const domains = names('metrics', 120);
    await importDomains(
      sys,
      domains.map((name) => ({ name, reseller: 'losing' })),
    );
    const res = await submit(sys, losing, { gaining_reseller: 'gaining', domains });
    expect(res.status).to.equal(202);
    expect((await waitForJob(sys, losing, res.body.id, undefined, 120_000)).status).to.equal('completed');
    const body = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: 'Bearer metrics-token-0123456789' } }).then(
      (r) => r.text(),
    );
    expect(body).to.include('domain_push_items_processed_total{kind="push",status="pushed"} 120');
    expect(body).to.include('domain_push_job_duration_seconds_count{kind="push",status="completed"} 1');
    expect(body).to.match(/domain_push_outbox_backlog \d+/);
  });
});
