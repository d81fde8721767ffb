/**
 * `npm run bench:tenants`: many tenants at once. One reseller's `all_domains` push of TENANTS_BIG
 * (500,000) domains runs; once it is under way, TENANTS_SMALL_JOBS (200) other resellers each
 * submit a TENANTS_SMALL_DOMAINS (100)-domain job, spread evenly over TENANTS_SPREAD_MS (10 s).
 *
 * Prints: each small job's submit → completed (server side, created_at → finished_at) p50, p95 and
 * max (target: every one within 2 s); the big job's rate before the small jobs and while they ran;
 * the share of the pushes the small jobs took in that window; and the big job's rate while they
 * ran ÷ (its rate before × (1 − that share)): ≥ 1 means the big job lost no more than the share the
 * small jobs took (fair queuing cost nothing beyond the work it let in). A table and a JSON line.
 *
 * Where the time goes: the CPU of the API process (with this bench's own client in it), the worker
 * and the bench database's Postgres backends, read from /proc (Postgres on this machine, the
 * default), while the big job runs alone and while the small jobs run. Alone it gives a big-job
 * domain's cost; the window's CPU less the big job's domains at that cost is the small jobs' cost:
 * per job, and ÷ its domains at the big job's cost (what a job costs beyond its domains). From the
 * small jobs' share of that CPU, the big job's rate ÷ (alone × (1 − CPU share)) says whether it
 * lost more than the machine time the small jobs used (≈ 1: queuing itself wasted nothing).
 *
 * The domains are seeded in SQL (generate_series); resellers and authorizations through the API.
 * In-process API (bench/world.ts), one worker process, its own database and queue prefix, removed at
 * the end. Env: TENANTS_BIG, TENANTS_SMALL_JOBS, TENANTS_SMALL_DOMAINS, TENANTS_SPREAD_MS,
 * TENANTS_BASELINE_MS (5000), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2). The big job is cancelled
 * once the small ones are done. A quick run: TENANTS_BIG=50000 TENANTS_SMALL_JOBS=40 npm run bench:tenants.
 */
import os from 'node:os';
import type { Db } from '../shared/platform/db';
import { cpuSeconds, DB_NAME, log, ok, postgresCpuMeter, PREFIX, reseller, round, sleep, table, workerPid } from './lib';
import { runBench } from './world';

const BIG = Number(process.env.TENANTS_BIG ?? 500_000);
const SMALL_JOBS = Number(process.env.TENANTS_SMALL_JOBS ?? 200);
const SMALL_DOMAINS = Number(process.env.TENANTS_SMALL_DOMAINS ?? 100);
const SPREAD_MS = Number(process.env.TENANTS_SPREAD_MS ?? 10_000);
const BASELINE_MS = Number(process.env.TENANTS_BASELINE_MS ?? 5_000);
const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const TARGET_MAX_S = 2;

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Items of a job pushed so far, from its chunk counters (what GET /v1/jobs/{id} sums). */
async function pushed(db: Db, jobId: string): Promise<number> {
  const { rows } = await db.raw(`select coalesce(sum((counts->>'pushed')::int), 0)::int as n from bulk_job_chunk_counts where job_id = ?`, [
    jobId,
  ]);
  return Number(rows[0].n);
}

/** CPU seconds of the API process (this one), the worker and the bench's Postgres backends from now until `stop()`. */
function cpuMeter(worker: number) {
  const api = process.cpuUsage();
  const w = cpuSeconds(worker);
  const pg = postgresCpuMeter();
  return {
    stop() {
      const a = process.cpuUsage(api);
      return { api: (a.user + a.system) / 1e6, worker: cpuSeconds(worker) - w, postgres: pg.stop() };
    },
  };
}
type Cpu = ReturnType<ReturnType<typeof cpuMeter>['stop']>;
const cpuTotal = (c: Cpu) => c.api + c.worker + c.postgres;

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'tenants',
      env: { CHUNK_SIZE: String(CHUNK_SIZE), WORKER_CONCURRENCY: String(CONCURRENCY), MAX_DOMAINS_PER_JOB: String(Math.max(BIG, 50_000)) },
    },
    async ({ db, startWorker, workersReady }) => {
      log(`database ${DB_NAME}, prefix ${PREFIX}: ${BIG} domains + ${SMALL_JOBS} x ${SMALL_DOMAINS}, WORKER_CONCURRENCY ${CONCURRENCY}`);

      const gaining = await reseller('tn-gaining');
      const big = await reseller('tn-big');
      const smalls: { username: string; key: string; company_id: string }[] = [];
      for (let i = 0; i < SMALL_JOBS; i++) smalls.push(await reseller(`tn-small-${i}`));
      for (const r of [big, ...smalls])
        await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: r.company_id }, [201]);
      await db.raw(
        `insert into domains (name, reseller_id)
       select 'tn-big-' || lpad(i::text, 7, '0') || '.example', (select id from resellers where username = 'tn-big') from generate_series(0, ?::int - 1) i`,
        [BIG],
      );
      await db.raw(
        `insert into domains (name, reseller_id)
       select 'tn-' || r.username || '-' || lpad(i::text, 4, '0') || '.example', r.id
       from resellers r, generate_series(0, ?::int - 1) i where r.username like 'tn-small-%'`,
        [SMALL_DOMAINS],
      );
      await db.raw('vacuum analyze');
      log('seeded');

      const worker = startWorker();
      await workersReady([worker]);
      const wpid = workerPid(worker.pid!);
      const bigJob = (await ok('POST', '/v1/bulk-pushes', big.key, { gaining_reseller: 'tn-gaining', all_domains: true }, [202])).body
        .id as string;
      while ((await pushed(db, bigJob)) < 2 * CHUNK_SIZE) await sleep(100);
      // The big job alone, warm.
      const b0 = { n: await pushed(db, bigJob), t: performance.now() };
      const aloneMeter = cpuMeter(wpid);
      await sleep(BASELINE_MS);
      const b1 = { n: await pushed(db, bigJob), t: performance.now() };
      const alone = aloneMeter.stop();
      const rateBefore = (b1.n - b0.n) / ((b1.t - b0.t) / 1000);
      log(`big job alone: ${Math.round(rateBefore)} domains/s; submitting ${SMALL_JOBS} small jobs over ${SPREAD_MS} ms…`);

      const ids: string[] = [];
      const submitMs: number[] = [];
      const tStart = performance.now();
      const windowMeter = cpuMeter(wpid);
      await Promise.all(
        smalls.map(async (s, i) => {
          await sleep((i * SPREAD_MS) / SMALL_JOBS);
          const res = await ok('POST', '/v1/bulk-pushes', s.key, { gaining_reseller: 'tn-gaining', all_domains: true }, [202]);
          ids.push(res.body.id as string);
          submitMs.push(res.ms);
        }),
      );
      let rows: { id: string; status: string; created_at: Date; finished_at: Date | null }[] = [];
      for (;;) {
        rows = await db('bulk_jobs').whereIn('id', ids).select('id', 'status', 'created_at', 'finished_at');
        if (rows.every((r) => r.finished_at)) break;
        if (performance.now() - tStart > SPREAD_MS + 600_000) throw new Error('small jobs did not end within 10 minutes');
        await sleep(100);
      }
      const t1 = performance.now();
      const bigDuring = await pushed(db, bigJob);
      const during = windowMeter.stop();
      // The window: from just before the first small submit to the last small job's end.
      const windowS = (t1 - tStart) / 1000;
      const bigRateDuring = (bigDuring - b1.n) / ((t1 - b1.t) / 1000);
      const smallItems = SMALL_JOBS * SMALL_DOMAINS;
      const bigInWindow = bigRateDuring * windowS;
      const smallShare = smallItems / (smallItems + bigInWindow);
      const lossRatio = bigRateDuring / (rateBefore * (1 - smallShare));
      // What a big-job domain costs (alone), and what the small jobs cost: the window's CPU less
      // the big job's domains in it at that cost.
      const bigDomainsAlone = b1.n - b0.n;
      const bigDomainsDuring = bigDuring - b1.n;
      const perDomain = (k: keyof Cpu) => alone[k] / bigDomainsAlone;
      const smallCpu = (k: keyof Cpu) => Math.max(0, during[k] - bigDomainsDuring * perDomain(k));
      const smallTotal = smallCpu('api') + smallCpu('worker') + smallCpu('postgres');
      const perBigDomainUs = (cpuTotal(alone) / bigDomainsAlone) * 1e6;
      const perSmallJobMs = (k: keyof Cpu) => (smallCpu(k) / SMALL_JOBS) * 1000;
      // The big job's rate while the small ones ran ÷ what it had left of the CPU it used alone.
      const cpuShare = smallTotal / cpuTotal(during);
      const byCpu = bigRateDuring / (rateBefore * (1 - cpuShare));
      const bad = rows.filter((r) => r.status !== 'completed');
      const secs = rows.map((r) => (new Date(r.finished_at!).getTime() - new Date(r.created_at).getTime()) / 1000).sort((a, b) => a - b);
      const bigView = (await ok('GET', `/v1/jobs/${bigJob}`, big.key, undefined, [200])).body;
      await ok('POST', `/v1/jobs/${bigJob}/cancel`, big.key, undefined, [202, 409]);
      submitMs.sort((a, b) => a - b);

      const result = {
        small_jobs: SMALL_JOBS,
        small_domains: SMALL_DOMAINS,
        spread_ms: SPREAD_MS,
        small_not_completed: bad.length,
        small_p50_s: round(percentile(secs, 50), 3),
        small_p95_s: round(percentile(secs, 95), 3),
        small_max_s: round(secs[secs.length - 1], 3),
        small_submit_p95_ms: round(percentile(submitMs, 95), 0),
        big_domains: BIG,
        big_status_at_end: bigView.status as string,
        big_rate_before: Math.round(rateBefore),
        big_rate_during: Math.round(bigRateDuring),
        window_s: round(windowS, 2),
        small_share: round(smallShare, 3),
        big_rate_during_over_fair: round(lossRatio, 3),
        cpu_per_big_domain_us: round(perBigDomainUs, 1),
        cpu_per_small_job_ms: {
          api: round(perSmallJobMs('api'), 1),
          worker: round(perSmallJobMs('worker'), 1),
          postgres: round(perSmallJobMs('postgres'), 1),
        },
        small_job_cpu_over_its_domains: round(smallTotal / SMALL_JOBS / ((SMALL_DOMAINS * perBigDomainUs) / 1e6), 2),
        small_cpu_share: round(cpuShare, 3),
        big_rate_during_over_cpu_fair: round(byCpu, 3),
      };
      const pass = (v: boolean) => (v ? 'ok' : 'MISSED');
      const rowsOut: [string, ...unknown[]][] = [
        ['small jobs: submit → completed p50, s', result.small_p50_s, '', ''],
        ['small jobs: submit → completed p95, s', result.small_p95_s, `< ${TARGET_MAX_S}`, pass(result.small_p95_s < TARGET_MAX_S)],
        ['small jobs: submit → completed max, s', result.small_max_s, `< ${TARGET_MAX_S}`, pass(result.small_max_s < TARGET_MAX_S)],
        ['small jobs not completed', result.small_not_completed, '0', pass(result.small_not_completed === 0)],
        ['small submit latency p95 (client), ms', result.small_submit_p95_ms, '', ''],
        ['big job alone, domains/s', result.big_rate_before, '', ''],
        ['big job while the small ones ran, domains/s', result.big_rate_during, '', ''],
        ["small jobs' share of the pushes in that window", result.small_share, '', ''],
        ['big during ÷ (alone × (1 − share))', result.big_rate_during_over_fair, '≥ 0.9', pass(result.big_rate_during_over_fair >= 0.9)],
        ['CPU per big-job domain (API + worker + Postgres), µs', result.cpu_per_big_domain_us, '', ''],
        [
          'CPU per small job: API (with this client) / worker / Postgres, ms',
          `${result.cpu_per_small_job_ms.api} / ${result.cpu_per_small_job_ms.worker} / ${result.cpu_per_small_job_ms.postgres}`,
          '',
          '',
        ],
        ["a small job's CPU ÷ its domains' at the big job's cost", result.small_job_cpu_over_its_domains, '', ''],
        ["small jobs' share of the CPU in that window", result.small_cpu_share, '', ''],
        ['big during ÷ (alone × (1 − CPU share))', result.big_rate_during_over_cpu_fair, '', ''],
      ];
      console.log('');
      console.log(
        `domain-push tenants bench: ${SMALL_JOBS} resellers x ${SMALL_DOMAINS} domains over ${SPREAD_MS / 1000} s while one pushes ${BIG}; ` +
          `WORKER_CONCURRENCY ${CONCURRENCY}, ${os.cpus().length} CPUs, load average ${os
            .loadavg()
            .map((l) => round(l, 1))
            .join(' ')}`,
      );
      console.log(table(rowsOut, ['', 'measured', 'target', '']));
      console.log('');
      console.log(
        JSON.stringify({ bench: 'tenants', ...result, cpus: os.cpus().length, total_s: round((performance.now() - started) / 1000, 1) }),
      );
    },
  );
}

main();
