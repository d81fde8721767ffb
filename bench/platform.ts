/**
 * `npm run bench:platform`: is a push flat with platform size, and are reads fast while it writes?
 * In one run, on its own database and queue prefix (both removed at the end), with the API in this
 * process and one worker process (WORKER_CONCURRENCY chunks at once, 2 by default):
 *
 * 1. pushes BENCH_DOMAINS (50,000) domains on an empty platform (the two resellers of the push);
 * 2. seeds a big platform set-based in SQL (`generate_series`, `insert … select`): 10,000 other
 *    resellers, 1,000,000 profiles and 5,000,000 domains, spread over those resellers;
 * 3. pushes another BENCH_DOMAINS domains of the same reseller on that big platform.
 *
 * During each push three loops read as a person watching it would, each one request after the
 * other with BENCH_READ_GAP_MS between them: the job view (GET /v1/bulk-pushes/:id), its first
 * items page (GET /v1/bulk-pushes/:id/items) and the pushing reseller's first page of domains
 * (GET /v1/domains). It prints both push rates, their ratio (big ÷ empty: 1 is flat) and p50/p95/p99
 * of each read, client side (fetch to body read) and server side (request → response sent), as a
 * table and a JSON line. Issue 20's targets: ratio ≥ ~0.9 (part 1), every read's p99 < 25 ms with
 * two chunks pushing (part 4).
 *
 * Env: BENCH_DOMAINS (50000), BENCH_PLATFORM_DOMAINS (5000000), BENCH_PLATFORM_PROFILES (1000000),
 * BENCH_PLATFORM_RESELLERS (10000), BENCH_READ_GAP_MS (20), BENCH_SQL ("1": also print the API's
 * SQL time per statement during the pushes), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2),
 * BENCH_WARMUP (5000), BENCH_PG_URL, BENCH_REDIS_URL. A quick run:
 * `BENCH_DOMAINS=5000 BENCH_PLATFORM_DOMAINS=200000 BENCH_PLATFORM_PROFILES=40000 BENCH_PLATFORM_RESELLERS=400 npm run bench:platform`.
 */
import type { Server } from 'node:http';
import os from 'node:os';
import type { Db } from '../shared/platform/db';
import {
  call,
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
  reseller,
  round,
  sleep,
  table,
  WARMUP,
  warmUp,
  workerPid,
} from './lib';
import { runBench } from './world';

const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const PLATFORM = {
  domains: Number(process.env.BENCH_PLATFORM_DOMAINS ?? 5_000_000),
  profiles: Number(process.env.BENCH_PLATFORM_PROFILES ?? 1_000_000),
  resellers: Number(process.env.BENCH_PLATFORM_RESELLERS ?? 10_000),
};
const READ_GAP_MS = Number(process.env.BENCH_READ_GAP_MS ?? 20);
const SQL_BREAKDOWN = process.env.BENCH_SQL === '1';
/** Domains per seeding statement: each commits on its own, so progress shows and no transaction holds millions of rows. */
const SEED_BATCH = 500_000;

// ---------------------------------------------------------------- seeding the big platform

/**
 * The platform, set-based: resellers, then profiles spread round-robin over them, then domains each
 * with a profile of its own reseller (domain g takes profile g mod P, which belongs to reseller
 * (g mod P) mod R). Every tenth domain is locked, every fiftieth expires within a year.
 */
async function seedPlatform(db: Db) {
  const t0 = performance.now();
  const { resellers: R, profiles: P, domains: D } = PLATFORM;
  const superuser = (await db.raw('select rolsuper from pg_roles where rolname = current_user')).rows[0]?.rolsuper === true;
  await db.raw(
    `insert into resellers (username, company_id, name, email, domain_push_enabled)
     select 'plat-r' || g, 'PLATR' || g, 'Platform reseller ' || g, 'ops@plat-r' || g || '.example', g % 3 = 0
     from generate_series(0, ?::int - 1) g`,
    [R],
  );
  // One statement on a fresh sequence hands out consecutive ids; checked, since the seeding relies on it.
  const span = async (tableName: string, like: string, col: string) => {
    const r = (
      await db.raw(`select min(id)::bigint as lo, max(id)::bigint as hi, count(*)::bigint as n from ${tableName} where ${col} like ?`, [
        like,
      ])
    ).rows[0];
    if (Number(r.hi) - Number(r.lo) + 1 !== Number(r.n)) throw new Error(`${tableName}: seeded ids are not consecutive`);
    return Number(r.lo);
  };
  const r0 = await span('resellers', 'plat-r%', 'username');
  log(`  ${R} resellers in ${round((performance.now() - t0) / 1000, 1)} s`);
  const t1 = performance.now();
  await db.transaction(async (trx) => {
    if (superuser) await trx.raw('set local session_replication_role = replica');
    await trx.raw(
      `insert into profiles (reseller_id, domain, username, password_hash, contact)
       select ?::bigint + g % ?::int, 'plat-p' || g || '.example', 'plat-p' || g, null,
              jsonb_build_object('first_name', 'Reg', 'last_name', 'Nr ' || g, 'email', 'reg' || g || '@plat.example', 'country', 'NL')
       from generate_series(0, ?::int - 1) g`,
      [r0, R, P],
    );
  });
  const p0 = await span('profiles', 'plat-p%', 'username');
  log(`  ${P} profiles in ${round((performance.now() - t1) / 1000, 1)} s`);
  // Two statements at a time (one per core), each on its own connection. The rows are consistent
  // by construction, so their foreign-key checks (two index probes per row) are skipped with
  // session_replication_role = replica, which only a superuser may set: without it they run.
  const batches: [number, number][] = [];
  for (let from = 0; from < D; from += SEED_BATCH) batches.push([from, Math.min(D, from + SEED_BATCH)]);
  const seedBatch = async ([from, to]: [number, number]) => {
    const t2 = performance.now();
    await db.transaction(async (trx) => {
      if (superuser) await trx.raw('set local session_replication_role = replica');
      await trx.raw(
        `insert into domains (name, reseller_id, profile_id, locked, expires_at)
         select 'plat-' || g || '.example', ?::bigint + (g % ?::int) % ?::int, ?::bigint + g % ?::int, g % 10 = 0,
                case when g % 50 = 0 then now() + (g % 365) * interval '1 day' end
         from generate_series(?::int, ?::int - 1) g`,
        [r0, P, R, p0, P, from, to],
      );
    });
    log(`  domains ${from}–${to} in ${round((performance.now() - t2) / 1000, 1)} s`);
  };
  const lanes = [0, 1].map(async (lane) => {
    for (let i = lane; i < batches.length; i += 2) await seedBatch(batches[i]);
  });
  await Promise.all(lanes);
  const t3 = performance.now();
  await db.raw('vacuum analyze');
  log(`  vacuum analyze in ${round((performance.now() - t3) / 1000, 1)} s`);
  return round((performance.now() - t0) / 1000, 1);
}

async function platformSize(db: Db) {
  const n = async (t: string) => Number((await db.raw(`select count(*)::bigint as n from ${t}`)).rows[0].n);
  return { domains: await n('domains'), profiles: await n('profiles'), resellers: await n('resellers') };
}

// ---------------------------------------------------------------- reads while pushing

type ReadName = 'job' | 'items' | 'domains';
const READS: ReadName[] = ['job', 'items', 'domains'];

/** Server side of each read (request received → response sent), by the route it asked. */
const serverMs: Record<ReadName, number[]> = { job: [], items: [], domains: [] };
let recording = false;

function readOf(url: string): ReadName | undefined {
  if (url.startsWith('/v1/domains')) return 'domains';
  if (!url.startsWith('/v1/bulk-pushes/')) return undefined;
  return url.split('?')[0].endsWith('/items') ? 'items' : 'job';
}

function timeReads(server: Server) {
  server.prependListener('request', (req, res) => {
    if (!recording || req.method !== 'GET' || !req.url) return;
    const name = readOf(req.url);
    if (!name) return;
    const t0 = performance.now();
    res.once('finish', () => {
      if (recording) serverMs[name].push(performance.now() - t0);
    });
  });
}

/** The API's SQL during the pushes, by statement head: where a read's time goes. */
const sqlMs = new Map<string, { n: number; ms: number }>();
function timeSql(db: Db) {
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => {
    if (recording) started.set(q.__knexQueryUid, performance.now());
  });
  db.on('query-response', (_r: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const t0 = started.get(q.__knexQueryUid);
    if (t0 === undefined) return;
    started.delete(q.__knexQueryUid);
    const head = q.sql.replace(/\s+/g, ' ').slice(0, 90);
    const s = sqlMs.get(head) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += performance.now() - t0;
    sqlMs.set(head, s);
  });
}

function percentile(sorted: number[], p: number) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: round(percentile(s, 50), 1),
    p95: round(percentile(s, 95), 1),
    p99: round(percentile(s, 99), 1),
    max: round(s[s.length - 1] ?? 0, 1),
  };
}

interface RunResult {
  platform: string;
  size: { domains: number; profiles: number; resellers: number };
  domains: number;
  end_to_end_s: number;
  domains_per_s: number;
  server_domains_per_s: number;
  cpu_s: { worker: number; postgres: number; api: number };
  reads: Record<ReadName, { client: ReturnType<typeof stats>; server: ReturnType<typeof stats>; bytes: number }>;
}

/**
 * Submits the push, reads while it runs (three loops), and returns its rate and the reads' latency.
 * Reads are recorded only while the job is open, so an idle API's fast answers do not dilute them.
 */
async function pushRun(
  label: string,
  losing: { key: string },
  gaining: { username: string },
  names: string[],
  db: Db,
  workerProc: number,
): Promise<RunResult> {
  await db.raw('vacuum analyze');
  const size = await platformSize(db);
  for (const r of READS) serverMs[r].length = 0;
  const client: Record<ReadName, number[]> = { job: [], items: [], domains: [] };
  const bytes: Record<ReadName, number> = { job: 0, items: 0, domains: 0 };
  const pgCpu = postgresCpuMeter();
  const cpu0 = { worker: cpuSeconds(workerProc), api: process.cpuUsage() };
  const t0 = performance.now();
  const submit = await ok(
    'POST',
    '/v1/bulk-pushes',
    losing.key,
    { gaining_reseller: gaining.username, domains: names, profile: { mode: 'new' } },
    [202],
  );
  const jobId = submit.body.id as string;
  recording = true;
  let done = false;
  let last: JobView | undefined;
  const urls: Record<ReadName, string> = {
    job: `/v1/bulk-pushes/${jobId}`,
    items: `/v1/bulk-pushes/${jobId}/items`,
    domains: '/v1/domains',
  };
  const loop = async (name: ReadName) => {
    while (!done) {
      const res = await call('GET', urls[name], losing.key);
      if (res.status !== 200) throw new Error(`GET ${urls[name]} → ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
      if (done) break;
      client[name].push(res.ms);
      bytes[name] = Math.max(bytes[name], JSON.stringify(res.body).length);
      if (name === 'job') {
        last = res.body as unknown as JobView;
        if (['completed', 'cancelled', 'failed'].includes(last.status)) done = true;
      }
      await sleep(READ_GAP_MS);
    }
  };
  await Promise.all(READS.map(loop));
  recording = false;
  const t1 = performance.now();
  const apiCpu = process.cpuUsage(cpu0.api);
  const view = last!;
  if (view.status !== 'completed' || view.counts.pushed !== names.length)
    throw new Error(`job ${jobId} ended ${view.status} with ${JSON.stringify(view.counts)}`);
  const e2e = (t1 - t0) / 1000;
  const server = (new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000;
  return {
    platform: label,
    size,
    domains: names.length,
    end_to_end_s: round(e2e, 3),
    domains_per_s: Math.round(names.length / e2e),
    server_domains_per_s: Math.round(names.length / server),
    cpu_s: {
      worker: round(cpuSeconds(workerProc) - cpu0.worker, 2),
      postgres: round(pgCpu.stop(), 2),
      api: round((apiCpu.user + apiCpu.system) / 1e6, 2),
    },
    reads: Object.fromEntries(
      READS.map((r) => [r, { client: stats(client[r]), server: stats(serverMs[r]), bytes: bytes[r] }]),
    ) as RunResult['reads'],
  };
}

// ---------------------------------------------------------------- the run

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'platform',
      env: { CHUNK_SIZE: String(CHUNK_SIZE), WORKER_CONCURRENCY: String(CONCURRENCY), MAX_DOMAINS_PER_JOB: String(Math.max(N, 50_000)) },
      // The bench's own connections seed millions of rows and vacuum them: no statement timeout.
      db: { PG_STATEMENT_TIMEOUT_MS: 0 },
      onServer: (server, apiDb) => {
        timeReads(server);
        if (SQL_BREAKDOWN) timeSql(apiDb);
      },
    },
    async ({ db, startWorker, workersReady }) => {
      const worker = startWorker();
      log(
        `database ${DB_NAME}, prefix ${PREFIX}, ${N} domains per push, platform ${PLATFORM.domains} domains / ` +
          `${PLATFORM.profiles} profiles / ${PLATFORM.resellers} resellers, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`,
      );

      const losing = await reseller('bench-losing');
      const gaining = await reseller('bench-gaining');
      await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: losing.company_id }, [201]);
      // The big run's domains are imported after the seeding, so they are the platform's newest rows
      // (the last ids), as a reseller's latest domains are: a read that walks ids from the start pays.
      const batches = { empty: domainNames('empty'), big: domainNames('big'), warm: domainNames('warm', WARMUP) };
      const tImport = performance.now();
      for (const batch of ['warm', 'empty'] as const) await importBatch(batches[batch], losing.username, batch);
      log(`imported ${N + WARMUP} domains of the pushing reseller in ${round((performance.now() - tImport) / 1000, 1)} s`);

      await workersReady([worker]);
      const wpid = workerPid(worker.pid!);
      await warmUp(batches.warm, losing.key, gaining.username, { mode: 'new' });

      log(`pushing ${N} domains on the empty platform…`);
      const empty = await pushRun('empty', losing, gaining, batches.empty, db, wpid);
      log(`  ${empty.domains_per_s} domains/s end to end`);
      log(`seeding the platform…`);
      const seedS = await seedPlatform(db);
      await importBatch(batches.big, losing.username, 'big');
      log(`seeded in ${seedS} s; pushing ${N} domains on the big platform…`);
      const big = await pushRun('big', losing, gaining, batches.big, db, wpid);
      log(`  ${big.domains_per_s} domains/s end to end`);

      const runs = [empty, big];
      const ratio = round(big.domains_per_s / empty.domains_per_s, 3);
      const serverRatio = round(big.server_domains_per_s / empty.server_domains_per_s, 3);
      const readRow = (r: ReadName, side: 'client' | 'server'): [string, ...unknown[]] => [
        `  ${r === 'job' ? 'job view' : r === 'items' ? 'items page' : 'GET /v1/domains'} (${side}), p50 / p95 / p99 ms`,
        ...runs.map((x) => `${x.reads[r][side].p50} / ${x.reads[r][side].p95} / ${x.reads[r][side].p99}`),
      ];
      const rows: [string, ...unknown[]][] = [
        ['platform: domains / profiles / resellers', ...runs.map((x) => `${x.size.domains} / ${x.size.profiles} / ${x.size.resellers}`)],
        ['pushed domains', ...runs.map((x) => x.domains)],
        ['end to end, domains/s', ...runs.map((x) => x.domains_per_s)],
        ['  server side (created_at → finished_at), domains/s', ...runs.map((x) => x.server_domains_per_s)],
        ['ratio big / empty (end to end; server side)', '-', `${ratio}; ${serverRatio}`],
        ['CPU s during run: worker / postgres / API+bench', ...runs.map((x) => `${x.cpu_s.worker} / ${x.cpu_s.postgres} / ${x.cpu_s.api}`)],
        [
          'reads during the push (each loop: request, then a gap)',
          ...runs.map((x) => `${x.reads.job.client.n + x.reads.items.client.n + x.reads.domains.client.n} reads`),
        ],
        ...READS.flatMap((r) => [readRow(r, 'client'), readRow(r, 'server')]),
        [
          'largest answer, bytes: job / items / domains',
          ...runs.map((x) => `${x.reads.job.bytes} / ${x.reads.items.bytes} / ${x.reads.domains.bytes}`),
        ],
      ];
      console.log('');
      console.log(
        `domain-push platform bench: ${N} domains per push, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}, ` +
          `${os.cpus().length} CPUs, read gap ${READ_GAP_MS} ms, platform seeded in ${seedS} s`,
      );
      console.log(table(rows, ['', 'empty platform', 'big platform']));
      console.log('');
      if (SQL_BREAKDOWN) {
        const top = [...sqlMs.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
        console.log(
          table(
            top.map(([head, s]) => [head, s.n, round(s.ms, 0), round(s.ms / s.n, 2)]),
            ['API SQL during both pushes (statement head)', 'count', 'total ms', 'mean ms'],
          ),
        );
        console.log('');
      }
      console.log(
        JSON.stringify({
          bench: 'platform',
          domains: N,
          platform: PLATFORM,
          chunk_size: CHUNK_SIZE,
          worker_concurrency: CONCURRENCY,
          cpus: os.cpus().length,
          read_gap_ms: READ_GAP_MS,
          seed_s: seedS,
          ratio_big_to_empty: ratio,
          server_ratio_big_to_empty: serverRatio,
          runs,
          total_s: round((performance.now() - started) / 1000, 1),
        }),
      );
    },
  );
}

main();
