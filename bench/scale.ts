/**
 * `npm run bench:scale`: the same push (50,000 domains, no locks) with one worker process, then
 * with two, each process with the same WORKER_CONCURRENCY, through the real API; prints domains/s
 * of each, the ratio two ÷ one, each process's CPU, Postgres' CPU and how often Postgres backends
 * of the run waited on a lock (sampled from pg_stat_activity), as a table and a JSON line. It
 * creates its own database and queue prefix and removes both.
 *
 * Env: BENCH_DOMAINS (50000), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2, per process),
 * BENCH_SCALE_WORKERS ("1,2,2c2": worker processes per run; "1x4" = one process with concurrency 4;
 * "2c2" = two processes with MAX_CHUNKS_IN_FLIGHT 2),
 * BENCH_SCALE_ROUNDS (3: the list is run this many times, interleaved, and each shape reports its median),
 * BENCH_SCALE_MODE ("new" or "existing" profile), BENCH_WARMUP (5000 domains per worker process, pushed
 * before each measured run), BENCH_POLL_MS (250), BENCH_PG_URL, BENCH_REDIS_URL.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Knex } from 'knex';
import {
  cpuSeconds,
  DB_NAME,
  domainNames,
  importBatch,
  type JobView,
  log,
  N,
  ok,
  postgresCpuMeter,
  PREFIX,
  procStatus,
  reseller,
  round,
  sleep,
  stopProcess,
  table,
  WARMUP,
  warmUp,
  workerPid,
} from './lib';
import { runBench } from './world';

const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
const MODE = (process.env.BENCH_SCALE_MODE ?? 'new') as 'new' | 'existing';
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 250);

/**
 * "2" = two processes at WORKER_CONCURRENCY; "1x4" = one process at concurrency 4; "2c2" = two
 * processes with MAX_CHUNKS_IN_FLIGHT 2 (at most two chunks in flight between them).
 */
interface Shape {
  label: string;
  processes: number;
  concurrency: number;
  cap?: number;
}
const SHAPES: Shape[] = (process.env.BENCH_SCALE_WORKERS ?? '1,2,2c2')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((s) => {
    const m = /^(\d+)(?:x(\d+))?(?:c(\d+))?$/.exec(s);
    if (!m) throw new Error(`BENCH_SCALE_WORKERS: bad entry ${s}`);
    const p = Number(m[1]);
    const concurrency = m[2] ? Number(m[2]) : CONCURRENCY;
    const cap = m[3] ? Number(m[3]) : undefined;
    if (p < 1 || concurrency < 1 || cap === 0) throw new Error(`BENCH_SCALE_WORKERS: bad entry ${s}`);
    const label = `${m[2] ? `${p} × concurrency ${concurrency}` : `${p} process${p > 1 ? 'es' : ''}`}${cap ? `, ≤ ${cap} in flight` : ''}`;
    return { label, processes: p, concurrency, cap };
  });

interface ScaleRun {
  shape: string;
  processes: number;
  concurrency: number;
  end_to_end_s: number;
  domains_per_s: number;
  server_domains_per_s: number;
  cpu_s: { workers: number[]; postgres: number };
  peak_rss_mb: number[];
  /** Share of pg_stat_activity samples in which at least one backend of the run waited on a lock. */
  lock_wait_share: number;
  /** Waiting backends seen, by wait event (e.g. Lock/advisory, Lock/tuple, LWLock/WALWrite). */
  waits: Record<string, number>;
  active_backends_mean: number;
}

/** Samples pg_stat_activity from the admin connection (not the bench database, so not counted as its CPU). */
function waitSampler(admin: Knex, everyMs = 100) {
  let stopped = false;
  let samples = 0;
  let withLockWait = 0;
  let active = 0;
  const waits: Record<string, number> = {};
  const loop = (async () => {
    while (!stopped) {
      const res = await admin.raw(
        `select coalesce(wait_event_type, 'CPU') as type, coalesce(wait_event, '-') as event, count(*)::int as n
           from pg_stat_activity where datname = ? and state = 'active' and pid <> pg_backend_pid()
          group by 1, 2`,
        [DB_NAME],
      );
      samples++;
      let locked = false;
      for (const r of res.rows as { type: string; event: string; n: number }[]) {
        active += r.n;
        if (r.type === 'CPU' || r.type === 'Client') continue;
        waits[`${r.type}/${r.event}`] = (waits[`${r.type}/${r.event}`] ?? 0) + r.n;
        if (r.type === 'Lock') locked = true;
      }
      if (locked) withLockWait++;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, lockWaitShare: samples ? withLockWait / samples : 0, waits, activeMean: samples ? active / samples : 0 };
    },
  };
}

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'bench-scale',
      env: { CHUNK_SIZE: String(CHUNK_SIZE), WORKER_CONCURRENCY: String(CONCURRENCY), MAX_DOMAINS_PER_JOB: String(Math.max(N, 50_000)) },
    },
    async ({ db, admin, startWorker, workersReady }) => {
      let workers: ChildProcess[] = [];

      const losing = await reseller('bench-losing');
      const gaining = await reseller('bench-gaining');
      await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: losing.company_id }, [201]);
      await ok(
        'POST',
        '/v1/profiles',
        gaining.key,
        { domain: 'bench-target.example', username: 'bench-target', password: 'bench-target-password' },
        [201],
      );
      const profile =
        MODE === 'new'
          ? { mode: 'new' }
          : { mode: 'existing', domain: 'bench-target.example', username: 'bench-target', password: 'bench-target-password' };

      // Interleaved (1, 2, 1, 2, …) so a burst of load from elsewhere does not land on one shape only.
      const plan = Array.from({ length: ROUNDS }, () => SHAPES).flat();
      log(
        `database ${DB_NAME}, prefix ${PREFIX}, ${N} domains per run, CHUNK_SIZE ${CHUNK_SIZE}, runs: ${plan.map((s) => s.label).join(' | ')}`,
      );
      const tImport = performance.now();
      const batches = plan.map((_, i) => domainNames(`scale${i}`));
      for (const [i, names] of batches.entries()) await importBatch(names, losing.username, `scale${i}`);
      const warm = plan.map((shape, i) => domainNames(`warm${i}`, WARMUP * shape.processes));
      for (const [i, names] of warm.entries()) await importBatch(names, losing.username, `warm${i}`);
      await db.raw('vacuum analyze');
      log(`imported ${N * plan.length} domains in ${round((performance.now() - tImport) / 1000, 1)} s`);

      const runs: ScaleRun[] = [];
      for (const [i, shape] of plan.entries()) {
        workers = Array.from({ length: shape.processes }, () =>
          startWorker({ WORKER_CONCURRENCY: String(shape.concurrency), MAX_CHUNKS_IN_FLIGHT: String(shape.cap ?? '') }),
        );
        await workersReady(workers);
        await warmUp(warm[i], losing.key, gaining.username, profile);
        // What autovacuum does between pushes in production. This machine's Postgres runs with
        // autovacuum off, and without it each run was about a quarter slower than the one before,
        // whatever its shape: a later shape lost to the garbage of the earlier ones.
        await db.raw('vacuum analyze');
        const pids = workers.map((w) => workerPid(w.pid!));
        const pgCpu = postgresCpuMeter();
        const cpu0 = { workers: pids.map(cpuSeconds) };
        const rss = pids.map(() => 0);
        let sampling = true;
        const rssLoop = (async () => {
          while (sampling) {
            for (const [j, p] of pids.entries()) rss[j] = Math.max(rss[j], procStatus(p).VmRSS ?? 0);
            await sleep(100);
          }
        })();
        const waits = waitSampler(admin);
        log(`run ${i + 1}/${plan.length}: ${shape.label}, pushing ${N} domains (profile ${MODE})…`);
        const t0 = performance.now();
        const submit = await ok(
          'POST',
          '/v1/bulk-pushes',
          losing.key,
          { gaining_reseller: gaining.username, domains: batches[i], profile },
          [202],
        );
        let view: JobView;
        for (;;) {
          view = (await ok('GET', `/v1/jobs/${submit.body.id}`, losing.key, undefined, [200])).body as unknown as JobView;
          if (['completed', 'cancelled', 'failed'].includes(view.status)) break;
          await sleep(POLL_MS);
        }
        const e2e = (performance.now() - t0) / 1000;
        const cpu = { workers: pids.map((p, j) => round(cpuSeconds(p) - cpu0.workers[j], 2)), postgres: round(pgCpu.stop(), 2) };
        sampling = false;
        await rssLoop;
        const w = await waits.stop();
        await Promise.all(workers.map((p) => stopProcess(p)));
        workers = [];
        if (view.status !== 'completed' || view.counts.pushed !== N)
          throw new Error(`job ${submit.body.id} ended ${view.status} with ${JSON.stringify(view.counts)}`);
        const server_s = (new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000;
        const run: ScaleRun = {
          shape: shape.label,
          processes: shape.processes,
          concurrency: shape.concurrency,
          end_to_end_s: round(e2e, 3),
          domains_per_s: Math.round(N / e2e),
          server_domains_per_s: Math.round(N / server_s),
          cpu_s: cpu,
          peak_rss_mb: rss.map((r) => round(r)),
          lock_wait_share: round(w.lockWaitShare, 3),
          waits: Object.fromEntries(Object.entries(w.waits).sort((a, b) => b[1] - a[1])),
          active_backends_mean: round(w.activeMean, 2),
        };
        runs.push(run);
        log(`  ${run.domains_per_s} domains/s end to end, lock waits in ${round(run.lock_wait_share * 100)}% of samples`);
      }

      // Per shape: the median of its runs (one run when BENCH_SCALE_ROUNDS is 1).
      const median = (xs: number[]) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const mid = Math.floor(sorted.length / 2);
        return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
      };
      const byShape = SHAPES.map((s) => ({ shape: s, runs: runs.filter((r) => r.shape === s.label) }));
      const base = median(byShape[0].runs.map((r) => r.domains_per_s));
      const topWaits = (r: ScaleRun) =>
        Object.entries(r.waits)
          .slice(0, 3)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '-';
      const rows: [string, ...unknown[]][] = [
        ['end to end, domains/s (median of runs)', ...byShape.map((b) => median(b.runs.map((r) => r.domains_per_s)))],
        ['  each run, domains/s', ...byShape.map((b) => b.runs.map((r) => r.domains_per_s).join(' / '))],
        ['  server side (created → finished), domains/s', ...byShape.map((b) => b.runs.map((r) => r.server_domains_per_s).join(' / '))],
        [`ratio to ${byShape[0].shape.label}`, ...byShape.map((b) => round(median(b.runs.map((r) => r.domains_per_s)) / base, 2))],
        ['CPU s per worker process (last run)', ...byShape.map((b) => b.runs.at(-1)!.cpu_s.workers.join(' + '))],
        ['CPU s of Postgres (last run)', ...byShape.map((b) => b.runs.at(-1)!.cpu_s.postgres)],
        ['peak RSS per worker, MB (last run)', ...byShape.map((b) => b.runs.at(-1)!.peak_rss_mb.join(' / '))],
        ['active backends, mean (last run)', ...byShape.map((b) => b.runs.at(-1)!.active_backends_mean)],
        ['samples with a Lock wait (last run)', ...byShape.map((b) => `${round(b.runs.at(-1)!.lock_wait_share * 100)}%`)],
        ['top waits, backend-samples (last run)', ...byShape.map((b) => topWaits(b.runs.at(-1)!))],
      ];
      console.log('');
      console.log(
        `domain-push scale bench: ${N} domains per run, no locks, profile ${MODE}, CHUNK_SIZE ${CHUNK_SIZE}, ` +
          `${os.cpus().length} CPUs, ${ROUNDS} round(s)`,
      );
      console.log('');
      console.log(table(rows, ['', ...byShape.map((b) => b.shape.label)]));
      console.log('');
      console.log(
        JSON.stringify({
          bench: 'scale',
          domains: N,
          chunk_size: CHUNK_SIZE,
          mode: MODE,
          cpus: os.cpus().length,
          rounds: ROUNDS,
          ratio_to_first: Object.fromEntries(
            byShape.map((b) => [b.shape.label, round(median(b.runs.map((r) => r.domains_per_s)) / base, 3)]),
          ),
          runs,
          total_s: round((performance.now() - started) / 1000, 1),
        }),
      );
    },
  );
}

main();
