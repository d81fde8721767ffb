/**
 * `npm run bench:jobsize`: is a push flat with its size? Two `all_domains` pushes through the real
 * API (in this process, so the submit is timed server side) and one worker process: a small job
 * (JOBSIZE_SMALL, 50,000) and a big one (JOBSIZE_BIG, 500,000, with MAX_DOMAINS_PER_JOB raised to
 * it), each from its own losing reseller. Then cancels of a big job at several points (right after
 * the submit, and after a few seconds of pushing: JOBSIZE_CANCEL_AT, ms): the gaining reseller of
 * the big run pushes everything back, and each cancel is timed from request to answer.
 *
 * The domains and their 1,000 profiles per reseller are seeded set-based in SQL (generate_series),
 * not through the API. Its own database and queue prefix (bench/world.ts), removed at the end.
 *
 * Prints, as ratios in one run: the big job's per-domain rate ÷ the small one's (target ≥ 0.9),
 * submit server side (< 1.5 s), worker peak RSS (< 200 MB), API process RSS growth (< 100 MB),
 * Redis growth (< 5 MB), the cancel answers (< 1 s); a table and one JSON line.
 *
 * Env: JOBSIZE_SMALL (50000), JOBSIZE_BIG (500000), JOBSIZE_CANCEL_AT ("0,2000,6000"), CHUNK_SIZE
 * (1000), WORKER_CONCURRENCY (2), BENCH_POLL_MS (500), BENCH_WARMUP (5000), BENCH_PG_URL, BENCH_REDIS_URL.
 * A quick run: JOBSIZE_SMALL=5000 JOBSIZE_BIG=50000 npm run bench:jobsize.
 */
import type { Server } from 'node:http';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { Db } from '../shared/platform/db';
import { DB_NAME, log, ok, PREFIX, procStatus, reseller, round, sleep, table, usedMemory, WARMUP, workerPid, type JobView } from './lib';
import { runBench } from './world';

const SMALL = Number(process.env.JOBSIZE_SMALL ?? 50_000);
const BIG = Number(process.env.JOBSIZE_BIG ?? 500_000);
const CANCEL_AT = (process.env.JOBSIZE_CANCEL_AT ?? '0,2000,6000')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map(Number);
const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 500);
const PROFILES = 1000;

const TARGETS = {
  rate_ratio: 0.9,
  submit_server_ms: 1500,
  worker_rss_mb: 200,
  api_rss_growth_mb: 100,
  redis_growth_mb: 5,
  cancel_ms: 1000,
};

/** Server-side time of the last POST /v1/bulk-pushes (request received → response finished), ms. */
let lastSubmitServerMs = 0;
function timeSubmits(server: Server) {
  server.prependListener('request', (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/bulk-pushes') return;
    const t0 = performance.now();
    res.once('finish', () => {
      lastSubmitServerMs = performance.now() - t0;
    });
  });
}

/** `n` domains and 1,000 profiles for `resellerId`, in two statements (no API, no per-row round trip). */
async function seed(db: Db, resellerId: number, tag: string, n: number) {
  await db.raw(
    `insert into profiles (reseller_id, domain, username, password_hash, contact)
     select ?, 'reg-' || p || '.${tag}.example', '${tag}-reg-' || p, case when p % 100 = 0 then 'x' end,
            jsonb_build_object('first_name', 'Reg', 'last_name', 'Nr ' || p, 'email', 'reg' || p || '@${tag}.example', 'country', 'NL')
     from generate_series(0, ?::int - 1) p`,
    [resellerId, PROFILES],
  );
  await db.raw(
    `insert into domains (name, reseller_id, profile_id)
     select 'js-${tag}-' || lpad(i::text, 7, '0') || '.example', ?, p.id
     from generate_series(0, ?::int - 1) i
     join profiles p on p.reseller_id = ? and p.username = '${tag}-reg-' || (i % ${PROFILES})`,
    [resellerId, n, resellerId],
  );
}

/** Peaks of the worker's RSS, this (API) process's RSS and Redis used_memory while a run lasts. */
function sampler(redis: Redis, worker: number) {
  const peak = { worker: 0, api: 0, redis: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      peak.redis = Math.max(peak.redis, await usedMemory(redis).catch(() => 0));
      peak.worker = Math.max(peak.worker, procStatus(worker).VmRSS ?? 0);
      peak.api = Math.max(peak.api, procStatus(process.pid).VmRSS ?? 0);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return peak;
    },
  };
}

async function waitEnded(key: string, id: string, pollMs = POLL_MS): Promise<JobView & { started_at: string }> {
  for (;;) {
    const view = (await ok('GET', `/v1/jobs/${id}`, key, undefined, [200])).body as unknown as JobView & { started_at: string };
    if (['completed', 'cancelled', 'failed'].includes(view.status)) return view;
    await sleep(pollMs);
  }
}

interface RunResult {
  domains: number;
  submit_ms: number;
  submit_server_ms: number;
  end_to_end_s: number;
  domains_per_s: number;
  server_domains_per_s: number;
  worker_peak_rss_mb: number;
  api_rss_before_mb: number;
  api_rss_growth_mb: number;
  redis_growth_mb: number;
}

async function run(losing: { key: string }, gaining: string, n: number, redis: Redis, wpid: number, db: Db): Promise<RunResult> {
  await db.raw('vacuum analyze');
  // Garbage the bench itself made before (seeding, the last run's polls) is not the run's growth.
  (globalThis as { gc?: () => void }).gc?.();
  const apiBefore = procStatus(process.pid).VmRSS ?? 0;
  const redisBefore = await usedMemory(redis);
  const sample = sampler(redis, wpid);
  const t0 = performance.now();
  const submit = await ok('POST', '/v1/bulk-pushes', losing.key, { gaining_reseller: gaining, all_domains: true }, [202]);
  const submitServer = lastSubmitServerMs;
  const view = await waitEnded(losing.key, submit.body.id as string);
  const e2e = (performance.now() - t0) / 1000;
  const peak = await sample.stop();
  if (view.status !== 'completed' || view.counts.pushed !== n)
    throw new Error(`job ${submit.body.id} ended ${view.status} with ${JSON.stringify(view.counts)}`);
  const server = (new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000;
  return {
    domains: n,
    submit_ms: round(submit.ms, 0),
    submit_server_ms: round(submitServer, 0),
    end_to_end_s: round(e2e, 2),
    domains_per_s: Math.round(n / e2e),
    server_domains_per_s: Math.round(n / server),
    worker_peak_rss_mb: round(peak.worker),
    api_rss_before_mb: round(apiBefore),
    api_rss_growth_mb: round(Math.max(0, peak.api - apiBefore)),
    redis_growth_mb: round(Math.max(0, peak.redis - redisBefore) / 1024 / 1024, 2),
  };
}

/**
 * A push of everything `from` holds, cancelled `afterMs` after its submit answered; the cancel is
 * timed from request to answer. Waits for the job's end (its pending items ended in the background).
 */
async function cancelAt(from: { key: string }, to: string, afterMs: number) {
  const submit = await ok('POST', '/v1/bulk-pushes', from.key, { gaining_reseller: to, all_domains: true }, [202]);
  const id = submit.body.id as string;
  if (afterMs > 0) await sleep(afterMs);
  const before = (await ok('GET', `/v1/jobs/${id}`, from.key, undefined, [200])).body as unknown as JobView;
  const cancel = await ok('POST', `/v1/jobs/${id}/cancel`, from.key, undefined, [202]);
  const t1 = performance.now();
  const view = await waitEnded(from.key, id, 250);
  return {
    after_ms: afterMs,
    total: submit.body.total as number,
    pushed_before: before.counts.pushed ?? 0,
    status_before: before.status,
    cancel_ms: round(cancel.ms, 0),
    answered: cancel.body.status as string,
    ended: view.status,
    to_end_s: round((performance.now() - t1) / 1000, 2),
    pushed: view.counts.pushed ?? 0,
    cancelled: view.counts.cancelled ?? 0,
  };
}

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'jobsize',
      env: {
        CHUNK_SIZE: String(CHUNK_SIZE),
        WORKER_CONCURRENCY: String(CONCURRENCY),
        MAX_DOMAINS_PER_JOB: String(Math.max(BIG, SMALL, 50_000)),
        MAX_OPEN_ITEMS_PER_RESELLER: String(Math.max(2 * BIG, 1_000_000)),
      },
      onServer: (server) => timeSubmits(server),
    },
    async ({ db, redis, startWorker, workersReady }) => {
      const worker = startWorker();
      log(
        `database ${DB_NAME}, prefix ${PREFIX}, jobs of ${SMALL} and ${BIG} domains, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`,
      );

      const small = await reseller('js-small');
      const big = await reseller('js-big');
      const warm = await reseller('js-warm');
      const gainSmall = await reseller('js-gain-small');
      const gainBig = await reseller('js-gain-big');
      for (const [to, from] of [
        [gainSmall, small],
        [gainSmall, warm],
        [gainBig, big],
        [big, gainBig],
      ])
        await ok('POST', '/v1/push-settings/allowed-resellers', to.key, { reseller: from.company_id }, [201]);
      const ids = new Map(
        (await db('resellers').select('id', 'username')).map((r: { id: string; username: string }) => [r.username, Number(r.id)]),
      );
      const tSeed = performance.now();
      await seed(db, ids.get('js-small')!, 'small', SMALL);
      await seed(db, ids.get('js-big')!, 'big', BIG);
      if (WARMUP) await seed(db, ids.get('js-warm')!, 'warm', WARMUP);
      await db.raw('vacuum analyze');
      log(`seeded ${SMALL + BIG + WARMUP} domains in SQL in ${round((performance.now() - tSeed) / 1000, 1)} s`);

      await workersReady([worker]);
      const wpid = workerPid(worker.pid!);
      const bootRss = procStatus(wpid).VmRSS ?? 0;
      if (WARMUP) {
        const w = await ok('POST', '/v1/bulk-pushes', warm.key, { gaining_reseller: gainSmall.username, all_domains: true }, [202]);
        await waitEnded(warm.key, w.body.id as string, 100);
        log(`worker warmed up with a push of ${WARMUP} domains`);
      }

      log(`pushing ${SMALL} domains (all_domains)…`);
      const s = await run(small, gainSmall.username, SMALL, redis, wpid, db);
      log(`  ${s.domains_per_s} domains/s, submit ${s.submit_server_ms} ms server side, worker ${s.worker_peak_rss_mb} MB`);
      log(`pushing ${BIG} domains (all_domains)…`);
      const b = await run(big, gainBig.username, BIG, redis, wpid, db);
      log(`  ${b.domains_per_s} domains/s, submit ${b.submit_server_ms} ms server side, worker ${b.worker_peak_rss_mb} MB`);

      const cancels: Awaited<ReturnType<typeof cancelAt>>[] = [];
      for (const at of CANCEL_AT) {
        log(`cancel of a push of everything js-gain-big holds, ${at} ms after its submit…`);
        const c = await cancelAt(gainBig, big.username, at);
        cancels.push(c);
        log(`  answered ${c.answered} in ${c.cancel_ms} ms (${c.pushed_before} pushed before), job ${c.ended} after ${c.to_end_s} s`);
      }

      const ratio = round(b.domains_per_s / s.domains_per_s, 3);
      const serverRatio = round(b.server_domains_per_s / s.server_domains_per_s, 3);
      const cancelMax = Math.max(0, ...cancels.map((c) => c.cancel_ms));
      const pass = (v: boolean) => (v ? 'ok' : 'MISSED');
      const rows: [string, ...unknown[]][] = [
        [
          'submit server side, ms',
          s.submit_server_ms,
          b.submit_server_ms,
          `< ${TARGETS.submit_server_ms}`,
          pass(b.submit_server_ms < TARGETS.submit_server_ms),
        ],
        ['submit latency (client), ms', s.submit_ms, b.submit_ms, '', ''],
        ['end to end, s', s.end_to_end_s, b.end_to_end_s, '', ''],
        ['end to end, domains/s', s.domains_per_s, b.domains_per_s, '', ''],
        ['  ratio big / small', '', ratio, `≥ ${TARGETS.rate_ratio}`, pass(ratio >= TARGETS.rate_ratio)],
        ['server side (created → finished), domains/s', s.server_domains_per_s, b.server_domains_per_s, '', ''],
        ['  ratio big / small', '', serverRatio, '', ''],
        [
          'worker peak RSS, MB',
          s.worker_peak_rss_mb,
          b.worker_peak_rss_mb,
          `< ${TARGETS.worker_rss_mb}`,
          pass(b.worker_peak_rss_mb < TARGETS.worker_rss_mb),
        ],
        [
          'API process RSS growth, MB',
          s.api_rss_growth_mb,
          b.api_rss_growth_mb,
          `< ${TARGETS.api_rss_growth_mb}`,
          pass(b.api_rss_growth_mb < TARGETS.api_rss_growth_mb),
        ],
        [
          'Redis used_memory growth, MB',
          s.redis_growth_mb,
          b.redis_growth_mb,
          `< ${TARGETS.redis_growth_mb}`,
          pass(b.redis_growth_mb < TARGETS.redis_growth_mb),
        ],
        ...cancels.map((c): [string, ...unknown[]] => [
          `cancel ${c.after_ms} ms after submit (${c.status_before}, ${c.pushed_before} pushed), ms`,
          '',
          c.cancel_ms,
          `< ${TARGETS.cancel_ms}`,
          pass(c.cancel_ms < TARGETS.cancel_ms),
        ]),
      ];
      console.log('');
      console.log(
        `domain-push job-size bench: all_domains pushes of ${SMALL} and ${BIG} domains, CHUNK_SIZE ${CHUNK_SIZE}, ` +
          `WORKER_CONCURRENCY ${CONCURRENCY}, ${os.cpus().length} CPUs, one worker process (boot RSS ${round(bootRss)} MB), load average ${os
            .loadavg()
            .map((l) => round(l, 1))
            .join(' ')}`,
      );
      console.log(table(rows, ['', `${SMALL}`, `${BIG}`, 'target', '']));
      console.log('');
      console.log(
        JSON.stringify({
          bench: 'jobsize',
          small: s,
          big: b,
          ratio_end_to_end: ratio,
          ratio_server: serverRatio,
          cancels,
          cancel_max_ms: cancelMax,
          targets: TARGETS,
          chunk_size: CHUNK_SIZE,
          worker_concurrency: CONCURRENCY,
          cpus: os.cpus().length,
          loadavg: os.loadavg().map((l) => round(l, 2)),
          total_s: round((performance.now() - started) / 1000, 1),
        }),
      );
    },
  );
}

main();
