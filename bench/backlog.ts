/**
 * `npm run bench:backlog` (optional, not part of `npm run bench`: it seeds 500,000 domains): ten
 * 50,000-domain pushes submitted at once, so one worker process works through a 500,000-item
 * backlog; prints its RSS (peak, and as each job ends), Redis memory growth and throughput, and
 * whether the worker stayed under BENCH_BACKLOG_RSS_LIMIT_MB (200). Own database and prefix, removed.
 *
 * Env: BENCH_BACKLOG_JOBS (10), BENCH_DOMAINS (50000 per job), CHUNK_SIZE (1000),
 * WORKER_CONCURRENCY (2), BENCH_BACKLOG_RSS_LIMIT_MB (200), BENCH_POLL_MS (500), BENCH_PG_URL,
 * BENCH_REDIS_URL.
 */
import os from 'node:os';
import {
  DB_NAME,
  domainNames,
  importBatch,
  type JobView,
  log,
  N,
  ok,
  PREFIX,
  procStatus,
  reseller,
  round,
  sampler,
  sleep,
  usedMemory,
  workerPid,
} from './lib';
import { runBench } from './world';

const JOBS = Number(process.env.BENCH_BACKLOG_JOBS ?? 10);
const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const RSS_LIMIT_MB = Number(process.env.BENCH_BACKLOG_RSS_LIMIT_MB ?? 200);
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 500);

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'bench-backlog',
      env: { CHUNK_SIZE: String(CHUNK_SIZE), WORKER_CONCURRENCY: String(CONCURRENCY), MAX_DOMAINS_PER_JOB: String(Math.max(N, 50_000)) },
    },
    async ({ db, redis, startWorker, workersReady }) => {
      const losing = await reseller('bench-losing');
      const gaining = await reseller('bench-gaining');
      await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: losing.company_id }, [201]);

      log(
        `database ${DB_NAME}, prefix ${PREFIX}, ${JOBS} jobs of ${N} domains, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`,
      );
      const tImport = performance.now();
      const batches = Array.from({ length: JOBS }, (_, i) => domainNames(`backlog${i}`));
      // The first batch goes through the import API (profiles, validation); the others are copies
      // made in SQL, because importing 500,000 names over HTTP is not what this measures.
      await importBatch(batches[0], losing.username, 'backlog0');
      for (let i = 1; i < JOBS; i++) {
        await db.raw(
          `insert into domains (name, reseller_id, profile_id, locked, brand_id, settings, expires_at)
         select replace(name, 'bench-backlog0-', ?), reseller_id, profile_id, locked, brand_id, settings, expires_at
           from domains where name like 'bench-backlog0-%'`,
          [`bench-backlog${i}-`],
        );
      }
      await db.raw('vacuum analyze');
      log(`imported ${N * JOBS} domains in ${round((performance.now() - tImport) / 1000, 1)} s`);

      const worker = startWorker();
      await workersReady([worker]);
      const pid = workerPid(worker.pid!);
      const bootRss = round(procStatus(pid).VmRSS ?? 0);
      const redisBefore = await usedMemory(redis);
      const sample = sampler(redis, pid);

      // The whole backlog first, as a burst of resellers' submits would make it.
      const t0 = performance.now();
      const ids: string[] = [];
      const submitMs: number[] = [];
      for (const names of batches) {
        const res = await ok(
          'POST',
          '/v1/bulk-pushes',
          losing.key,
          { gaining_reseller: gaining.username, domains: names, profile: { mode: 'new' } },
          [202],
        );
        ids.push(res.body.id as string);
        submitMs.push(round(res.ms, 0));
      }
      log(`${JOBS} jobs submitted in ${round((performance.now() - t0) / 1000, 1)} s; the worker works through ${N * JOBS} items`);
      const ended = new Map<string, { at_s: number; rss_mb: number; status: string; pushed: number }>();
      while (ended.size < ids.length) {
        for (const id of ids) {
          if (ended.has(id)) continue;
          const view = (await ok('GET', `/v1/jobs/${id}`, losing.key, undefined, [200])).body as unknown as JobView;
          if (['completed', 'cancelled', 'failed'].includes(view.status)) {
            ended.set(id, {
              at_s: round((performance.now() - t0) / 1000, 1),
              rss_mb: round(procStatus(pid).VmRSS ?? 0),
              status: view.status,
              pushed: view.counts.pushed,
            });
            log(
              `  job ${ended.size}/${ids.length} ended ${view.status} at ${ended.get(id)!.at_s} s, worker RSS ${ended.get(id)!.rss_mb} MB`,
            );
          }
        }
        await sleep(POLL_MS);
      }
      const total = (performance.now() - t0) / 1000;
      const peaks = await sample.stop();
      const redisAfter = await usedMemory(redis);
      const bad = [...ended.values()].filter((e) => e.status !== 'completed' || e.pushed !== N);
      if (bad.length) throw new Error(`${bad.length} jobs did not complete with every domain pushed: ${JSON.stringify(bad)}`);
      const endings = ids.map((id) => ended.get(id)!);
      const mb = (b: number) => round(b / 1024 / 1024, 2);
      const result = {
        bench: 'backlog',
        jobs: JOBS,
        domains_per_job: N,
        chunk_size: CHUNK_SIZE,
        worker_concurrency: CONCURRENCY,
        cpus: os.cpus().length,
        submit_ms: submitMs,
        backlog_s: round(total, 1),
        domains_per_s: Math.round((N * JOBS) / total),
        worker_boot_rss_mb: bootRss,
        worker_peak_rss_mb: round(peaks.rssPeak),
        worker_rss_at_job_end_mb: endings.map((e) => e.rss_mb),
        worker_vmhwm_mb: round(procStatus(pid).VmHWM ?? 0),
        rss_limit_mb: RSS_LIMIT_MB,
        within_limit: peaks.rssPeak < RSS_LIMIT_MB,
        redis_peak_delta_mb: mb(Math.max(peaks.redisPeak, redisAfter) - redisBefore),
        redis_after_delta_mb: mb(redisAfter - redisBefore),
        total_s: round((performance.now() - started) / 1000, 1),
      };
      console.log('');
      console.log(
        `domain-push backlog bench: ${JOBS} × ${N} domains submitted at once, one worker process ` +
          `(CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}), ${os.cpus().length} CPUs`,
      );
      console.log(`  backlog worked off in ${result.backlog_s} s (${result.domains_per_s} domains/s)`);
      console.log(
        `  worker RSS: boot ${bootRss} MB, peak ${result.worker_peak_rss_mb} MB (limit ${RSS_LIMIT_MB} MB: ${result.within_limit ? 'within' : 'EXCEEDED'})`,
      );
      console.log(`  worker RSS as each job ended, MB: ${result.worker_rss_at_job_end_mb.join(', ')}`);
      const signed = (n: number) => `${n >= 0 ? '+' : ''}${n}`;
      console.log(`  Redis used_memory: ${signed(result.redis_peak_delta_mb)} MB at peak, ${signed(result.redis_after_delta_mb)} MB after`);
      console.log('');
      console.log(JSON.stringify(result));
      if (!result.within_limit) process.exitCode = 1;
    },
  );
}

main();
