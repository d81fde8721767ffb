/**
 * `npm run bench`: 50,000 domains pushed through the real API and one worker process, compared
 * with the set-based limit (one SQL UPDATE moving as many rows). Needs Postgres and Redis; it
 * creates its own database and queue prefix and removes both at the end.
 *
 * Env: BENCH_DOMAINS (50000), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2), BENCH_MODES ("new,existing"),
 * BENCH_POLL_MS (250; 10 once four chunks or fewer are open or the rate says it ends within two polls), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL
 * (redis://127.0.0.1:6379), BENCH_EXPERIMENT_SQL (run on the throwaway database after migrating, to
 * measure a schema change before writing its migration), BENCH_LOCKED ("1": also push N locked
 * domains with apply_to_locked through the database registry), BENCH_TUPLES ("1": count the heap
 * tuples and index entries each run writes, from pg_stat_user_tables; adds ~10 s per run while
 * Postgres flushes its counters), BENCH_WARMUP (5000: domains pushed once the worker is up, before
 * the measured runs; 0 skips it), BENCH_AB_ROOT (another checkout, e.g. `git archive` of the commit
 * before a change with node_modules linked in: its worker and this tree's push in turns, A B then B A,
 * BENCH_ROUNDS (2) times, and the bench prints both rates and their ratio instead of the usual table),
 * BENCH_CHUNK_SQL ("1": in mode existing, also the bound of a chunk done in Postgres, chunkInSql).
 * A quick run: BENCH_DOMAINS=5000 BENCH_MODES=new npm run bench.
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Db } from '../shared/platform/db';
import {
  cpuSeconds,
  DB_NAME,
  domainNames,
  importBatch,
  log,
  N,
  ok,
  postgresCpuMeter,
  PREFIX,
  prefixKeys,
  procStatus,
  reseller,
  round,
  sampler,
  sleep,
  stopProcess,
  table,
  usedMemory,
  WARMUP,
  warmUp,
  workerPid,
} from './lib';
import { runBench } from './world';

const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const MODES = (process.env.BENCH_MODES ?? 'new,existing')
  .split(',')
  .map((m) => m.trim())
  .filter(Boolean) as ('new' | 'existing')[];
// Each GET counts the job's items; polling much faster than this takes CPU from the run it measures.
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 250);
// Near the end (four chunks or fewer open: 0.1-0.3 s of work) the job is polled this often, so its
// end is seen within this long of it (at 250 ms throughout it was seen 0.1-0.3 s late, up to a tenth
// of a run; waiting for no open item before polling faster still lost up to one slow poll).
const POLL_END_MS = Math.min(POLL_MS, 10);
const NEAR_END_ITEMS = 4 * CHUNK_SIZE;
const LOCKED_RUN = (process.env.BENCH_LOCKED ?? '1') !== '0';
// Another checkout (e.g. `git archive` of the commit before a change, with node_modules linked): its
// worker (B) and this tree's (A) push alternately, BENCH_ROUNDS times each, on one database, and the
// bench prints their rates side by side and the ratio (a loaded machine slows both alike).
const AB_ROOT = process.env.BENCH_AB_ROOT ? path.resolve(process.env.BENCH_AB_ROOT) : undefined;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TUPLES = (process.env.BENCH_TUPLES ?? (AB_ROOT ? '0' : '1')) !== '0';
// The bound of a chunk done in Postgres (chunkInSql), in mode `existing`: "0" leaves it out.
const CHUNK_SQL = (process.env.BENCH_CHUNK_SQL ?? '1') !== '0' && MODES.includes('existing');

// ---------------------------------------------------------------- heap tuples and index entries

type TupleStats = Map<string, { ins: number; upd: number; hot: number; del: number; indexes: number }>;

async function tupleStats(db: Db): Promise<TupleStats> {
  const { rows } = await db.raw(
    `select s.relname, s.n_tup_ins::bigint as ins, s.n_tup_upd::bigint as upd, s.n_tup_hot_upd::bigint as hot,
            s.n_tup_del::bigint as del, (select count(*) from pg_index i where i.indrelid = s.relid)::int as indexes
     from pg_stat_user_tables s`,
  );
  type Row = { relname: string; ins: string; upd: string; hot: string; del: string; indexes: number };
  return new Map((rows as Row[]).map((r) => [r.relname, { ins: +r.ins, upd: +r.upd, hot: +r.hot, del: +r.del, indexes: r.indexes }]));
}

/**
 * Backends publish their counters at most once a second, and an idle one only after 10 s: read
 * until two reads a second apart agree (and at least 11 s passed since the run ended).
 */
async function settledTupleStats(db: Db): Promise<TupleStats> {
  const t0 = performance.now();
  let prev = JSON.stringify([...(await tupleStats(db))]);
  for (;;) {
    await sleep(1000);
    const now = await tupleStats(db);
    const cur = JSON.stringify([...now]);
    if (cur === prev && performance.now() - t0 > 11_000) return now;
    prev = cur;
  }
}

/** Per pushed domain: heap tuples written (insert + update + delete) and index entries (insert + non-HOT update, every index). */
function tupleDelta(before: TupleStats, after: TupleStats, n: number) {
  const out: Record<string, { ins: number; upd: number; hot: number; del: number; indexes: number; index_entries: number }> = {};
  for (const [rel, a] of after) {
    const b = before.get(rel) ?? { ins: 0, upd: 0, hot: 0, del: 0, indexes: a.indexes };
    const d = { ins: a.ins - b.ins, upd: a.upd - b.upd, hot: a.hot - b.hot, del: a.del - b.del };
    if (d.ins + d.upd + d.del === 0) continue;
    out[rel] = {
      ins: round(d.ins / n, 2),
      upd: round(d.upd / n, 2),
      hot: round(d.hot / n, 2),
      del: round(d.del / n, 2),
      indexes: a.indexes,
      // An upper bound for partial indexes, whose entries exist only when the predicate holds.
      index_entries: round(((d.ins + d.upd - d.hot) * a.indexes) / n, 2),
    };
  }
  return out;
}

// ---------------------------------------------------------------- HTTP

/** Server-side time of the last POST /v1/bulk-pushes (request received → response finished), ms. */
let lastSubmitServerMs = 0;
/** Time spent in the API process's own SQL statements during the last submit, by statement head. */
let submitSql: Record<string, number> = {};
let inSubmit = false;

function timeSubmits(server: Server, db: Db) {
  server.prependListener('request', (req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/bulk-pushes')) return;
    const t0 = performance.now();
    submitSql = {};
    inSubmit = true;
    res.once('finish', () => {
      lastSubmitServerMs = performance.now() - t0;
      inSubmit = false;
    });
  });
  const started = new Map<string, number>();
  db.on('query', (q: { __knexQueryUid: string }) => {
    if (inSubmit) started.set(q.__knexQueryUid, performance.now());
  });
  db.on('query-response', (_r: unknown, q: { __knexQueryUid: string; sql: string }) => {
    const t0 = started.get(q.__knexQueryUid);
    if (t0 === undefined) return;
    started.delete(q.__knexQueryUid);
    const head = q.sql.replace(/\s+/g, ' ').slice(0, 40);
    submitSql[head] = (submitSql[head] ?? 0) + performance.now() - t0;
  });
}

// ---------------------------------------------------------------- the run

interface RunResult {
  mode: string;
  domains: number;
  submit_ms: number;
  submit_server_ms: number;
  submit_sql_ms: Record<string, number>;
  end_to_end_s: number;
  domains_per_s: number;
  server_s: number;
  server_domains_per_s: number;
  worker_peak_rss_mb: number;
  worker_vmhwm_mb: number;
  redis_used_before_mb: number;
  redis_peak_mb: number;
  redis_delta_mb: number;
  redis_after_mb: number;
  bench_keys_after: number;
  bench_keys_after_kb: number;
  cpu_s: { worker: number; postgres: number; api: number };
  counts: Record<string, number>;
  tuples?: ReturnType<typeof tupleDelta>;
  phases_s: Phases;
}

/**
 * Where a run's wall time went, in turn (seconds): the submit until the first chunk was taken
 * (request, its transaction, the enqueue, the worker's pick-up), the chunks (first take → the last
 * item's result), the job's end (last item → the job row ended: the finalize and its emails), and
 * the poll that saw it. All but the chunks run on one core at a time.
 */
interface Phases {
  to_first_take: number;
  chunks: number;
  job_end: number;
  seen: number;
}

/** Waits until every email the runs before queued has been sent (30 s at most). */
async function outboxDrained(db: Db): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const { rows } = await db.raw('select count(*)::int as n from outbound_emails where sent_at is null');
    if (rows[0].n === 0) return;
    await sleep(50);
  }
  log('the outbox still has unsent emails after 30 s; running anyway');
}

async function phasesOf(db: Db, jobId: string, wallStart: number, wallSeen: number): Promise<Phases> {
  const { rows } = await db.raw(
    `select extract(epoch from j.started_at) * 1000 as started, extract(epoch from j.finished_at) * 1000 as finished,
            (select extract(epoch from max(i.finished_at)) * 1000 from bulk_job_items i where i.job_id = j.id) as last_item
     from bulk_jobs j where j.id = ?`,
    [jobId],
  );
  const r = rows[0];
  const [started, finished, lastItem] = [Number(r.started), Number(r.finished), Number(r.last_item)];
  const s = (ms: number) => round(ms / 1000, 3);
  return {
    to_first_take: s(started - wallStart),
    chunks: s(lastItem - started),
    job_end: s(finished - lastItem),
    seen: s(wallSeen - finished),
  };
}

async function pushRun(
  mode: string,
  losing: { key: string },
  gaining: { username: string },
  names: string[],
  profile: Record<string, unknown>,
  redis: Redis,
  workerProc: number,
  db: Db,
  applyToLocked = false,
): Promise<RunResult> {
  // The run before this one is over only once its emails are: the relay makes and sends a
  // 50,000-row results CSV after the job has ended, and a run started meanwhile shared the cores
  // with it (its submit took 0.1 s longer).
  await outboxDrained(db);
  // What autovacuum does between pushes in production: this machine's Postgres runs with it off,
  // and a run would otherwise pay for the dead rows of the runs before it (the scale bench saw each
  // run about a quarter slower than the one before).
  await db.raw('vacuum analyze');
  const tuples0 = TUPLES ? await tupleStats(db) : undefined;
  const before = await usedMemory(redis);
  const sample = sampler(redis, workerProc);
  const pgCpu = postgresCpuMeter();
  const cpu0 = { worker: cpuSeconds(workerProc), api: process.cpuUsage() };
  const wallStart = Date.now();
  const t0 = performance.now();
  const submit = await ok(
    'POST',
    '/v1/bulk-pushes',
    losing.key,
    { gaining_reseller: gaining.username, domains: names, profile, apply_to_locked: applyToLocked },
    [202],
  );
  const submitServer = lastSubmitServerMs;
  const sqlMs = Object.fromEntries(Object.entries(submitSql).map(([k, v]) => [k, round(v, 1)]));
  const jobId = submit.body.id as string;
  let view: { status: string; counts: Record<string, number>; created_at: string; finished_at: string };
  let first: { at: number; open: number } | undefined;
  let nearEnd = false;
  for (;;) {
    view = (await ok('GET', `/v1/jobs/${jobId}`, losing.key, undefined, [200])).body as typeof view;
    if (['completed', 'cancelled', 'failed'].includes(view.status)) break;
    const open = (view.counts.pending ?? 0) + (view.counts.running ?? 0);
    const at = performance.now();
    first ??= { at, open };
    // Time left at the rate since the first poll: a fast run (mode `existing` does 4,000 items in
    // ~0.1 s) can go from more than four open chunks to done inside one slow poll, and was seen
    // 0.12-0.14 s late, a tenth of its run, by the bench rather than the product.
    const rate = at > first.at ? (first.open - open) / (at - first.at) : 0;
    nearEnd ||= open <= NEAR_END_ITEMS || (rate > 0 && open / rate < 2 * POLL_MS);
    await sleep(nearEnd ? POLL_END_MS : POLL_MS);
  }
  const t1 = performance.now();
  const wallSeen = Date.now();
  const apiCpu = process.cpuUsage(cpu0.api);
  const cpu = {
    worker: round(cpuSeconds(workerProc) - cpu0.worker, 2),
    postgres: round(pgCpu.stop(), 2),
    api: round((apiCpu.user + apiCpu.system) / 1e6, 2),
  };
  const peaks = await sample.stop();
  const after = await usedMemory(redis);
  const footprint = await prefixKeys(redis);
  if (view.status !== 'completed' || view.counts.pushed !== names.length) {
    throw new Error(`job ${jobId} ended ${view.status} with ${JSON.stringify(view.counts)}`);
  }
  const tuples = tuples0 ? tupleDelta(tuples0, await settledTupleStats(db), names.length) : undefined;
  const e2e = (t1 - t0) / 1000;
  const server = (new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000;
  const mb = (b: number) => round(b / 1024 / 1024, 2);
  return {
    mode,
    domains: names.length,
    submit_ms: round(submit.ms, 0),
    submit_server_ms: round(submitServer, 0),
    submit_sql_ms: sqlMs,
    end_to_end_s: round(e2e, 3),
    domains_per_s: Math.round(names.length / e2e),
    server_s: round(server, 3),
    server_domains_per_s: Math.round(names.length / server),
    worker_peak_rss_mb: round(peaks.rssPeak, 1),
    worker_vmhwm_mb: round(procStatus(workerProc).VmHWM ?? 0, 1),
    redis_used_before_mb: mb(before),
    redis_peak_mb: mb(Math.max(peaks.redisPeak, after)),
    redis_delta_mb: mb(Math.max(peaks.redisPeak, after) - before),
    redis_after_mb: mb(after),
    bench_keys_after: footprint.keys,
    bench_keys_after_kb: round(footprint.bytes / 1024, 1),
    cpu_s: cpu,
    counts: Object.fromEntries(Object.entries(view.counts as Record<string, number>).filter(([, v]) => v > 0)),
    tuples,
    phases_s: await phasesOf(db, jobId, wallStart, wallSeen),
  };
}

async function setBased(db: Db, losingId: number, gainingId: number, expected: number) {
  await db.raw('vacuum analyze domains');
  const t0 = performance.now();
  const res = await db.raw('update domains set reseller_id = ? where reseller_id = ?', [gainingId, losingId]);
  const s = (performance.now() - t0) / 1000;
  if (res.rowCount !== expected) throw new Error(`set-based update moved ${res.rowCount}, expected ${expected}`);
  return { rows: res.rowCount as number, seconds: round(s, 3), domains_per_s: Math.round(expected / s) };
}

/**
 * The full-writes limit: the rows a push writes, set-based, in one transaction that is rolled
 * back — new profiles (mode `new`), the domain's owner/profile/brand/customer, its package links,
 * two billing events, and the item rows with their results (inserted once, as a take of an
 * unstarted chunk does). The job row (submit's work) is inserted first, untimed.
 */
async function fullWrites(db: Db, mode: 'new' | 'existing', losingId: number, gainingId: number, targetProfile: number, expected: number) {
  await db.raw('vacuum analyze');
  const trx = await db.transaction();
  try {
    const jobId = crypto.randomUUID();
    await trx('bulk_jobs').insert({
      id: jobId,
      kind: 'push',
      status: 'running',
      losing_reseller_id: losingId,
      gaining_reseller_id: gainingId,
      options: '{}',
      total: expected,
      chunk_count: Math.ceil(expected / CHUNK_SIZE),
    });
    // CPU of this transaction's own backend (the pool's other backends may come and go).
    const backend = Number((await trx.raw('select pg_backend_pid() as pid')).rows[0].pid);
    const cpu0 = cpuSeconds(backend);
    const t0 = performance.now();
    // The item rows with their results (from the losing side's domains, before they move).
    await trx.raw(
      `insert into bulk_job_items (job_id, domain_name, chunk, product, status, started_at, finished_at)
       select ?, name, (row_number() over (order by name) - 1) / ?, 'domain', 'pushed', now(), now() from domains where reseller_id = ?`,
      [jobId, CHUNK_SIZE, losingId],
    );
    const moved =
      mode === 'new'
        ? await trx.raw(
            `with np as (
               insert into profiles (reseller_id, domain, username, password_hash, contact, source_domain, created_by_job_seq)
               select ?, d.name, coalesce(p.username, 'registrant') || '-' || d.name, p.password_hash, coalesce(p.contact, '{}'::jsonb), d.name, 0
               from domains d left join profiles p on p.id = d.profile_id where d.reseller_id = ?
               returning id, source_domain)
             update domains d set reseller_id = ?, profile_id = np.id, brand_id = null, customer_id = null, updated_at = now()
             from np where d.name = np.source_domain`,
            [gainingId, losingId, gainingId],
          )
        : await trx.raw(
            `update domains set reseller_id = ?, profile_id = ?, brand_id = null, customer_id = null, updated_at = now()
             where reseller_id = ?`,
            [gainingId, targetProfile, losingId],
          );
    if (moved.rowCount !== expected) throw new Error(`full writes moved ${moved.rowCount}, expected ${expected}`);
    await trx.raw(
      `delete from package_domains where domain_id in (select d.id from domains d join bulk_job_items i on i.domain_name = d.name where i.job_id = ?)`,
      [jobId],
    );
    await trx.raw(
      `insert into billing_events (reseller_id, domain_id, job_id, kind, effective_from)
       select r, d.id, ?::uuid, k, now() from bulk_job_items i join domains d on d.name = i.domain_name,
         (values (?::bigint, 'push_in'), (?::bigint, 'push_out')) as v(r, k)
       where i.job_id = ?`,
      [jobId, gainingId, losingId, jobId],
    );
    const s = (performance.now() - t0) / 1000;
    const pgCpu = cpuSeconds(backend) - cpu0;
    return {
      mode,
      seconds: round(s, 3),
      domains_per_s: Math.round(expected / s),
      pg_cpu_us_per_domain: Math.round((pgCpu * 1e6) / expected),
    };
  } finally {
    await trx.rollback();
  }
}

/**
 * A bound for part 5 of issue 20, mode `existing`: what a chunk would cost if Postgres did all of it
 * in two statements, the worker sending no names and reading no rows. Per chunk, as the worker's two
 * lanes do: the job row FOR SHARE, the chunk's domains locked in id order (named by the chunk row
 * itself), then one statement that deletes the chunk row, decides each item (not found, not owned,
 * locked, pushed: the push's rules without holds, which the real statement would have to add),
 * moves the pushed domains, drops their package links, bills both sides and inserts the item rows
 * with their results. Not the product's code: the rules here are a sketch, to show the headroom
 * (docs/performance.md).
 */
async function chunkInSql(db: Db, losingId: number, gainingId: number, targetProfile: number, names: string[]) {
  await db.raw('vacuum analyze');
  const jobId = crypto.randomUUID();
  const chunks = Math.ceil(names.length / CHUNK_SIZE);
  // Ended from the start, so that no reconciler of the running worker takes its chunks too.
  await db('bulk_jobs').insert({
    id: jobId,
    kind: 'push',
    status: 'completed',
    finished_at: db.fn.now(),
    losing_reseller_id: losingId,
    gaining_reseller_id: gainingId,
    options: '{}',
    total: names.length,
    chunk_count: chunks,
  });
  await db.raw(
    `insert into bulk_job_chunks (job_id, chunk, item_ids, names, products, product_ids)
     select ?::uuid, c, array(select nextval('bulk_job_items_id_seq') from generate_series(1, cardinality(n))), n, null, null
     from (select (o - 1) / ?::int as c, array_agg(x order by o) as n from unnest(?::text[]) with ordinality t(x, o) group by 1) q`,
    [jobId, CHUNK_SIZE, [...names].sort()],
  );
  const pgCpu = postgresCpuMeter();
  const t0 = performance.now();
  let next = 0;
  let pushed = 0;
  const lane = async () => {
    for (let c = next++; c < chunks; c = next++) {
      await db.transaction(async (trx) => {
        await trx('bulk_jobs').where({ id: jobId }).forShare().first('id');
        await trx.raw(
          `select count(*) from (select d.id from domains d
             where d.name in (select unnest(names) from bulk_job_chunks where job_id = ? and chunk = ?) order by d.id for update) x`,
          [jobId, c],
        );
        const { rows } = await trx.raw(
          `with c as (delete from bulk_job_chunks where job_id = ?::uuid and chunk = ? returning item_ids, names),
           dec as (select u.id, u.name, d.id as domain_id,
                      case when d.id is null or d.reseller_id is distinct from ?::bigint then 'failed'
                           when d.locked then 'skipped' else 'pushed' end as status,
                      case when d.id is null then 'not_found' when d.reseller_id is distinct from ?::bigint then 'not_owned'
                           when d.locked then 'locked' end as reason
                   from c, unnest(c.item_ids, c.names) as u(id, name) left join domains d on d.name = u.name),
           moved as (update domains d set reseller_id = ?::bigint, profile_id = ?::bigint, brand_id = null, customer_id = null,
                       updated_at = now()
                     from dec where d.id = dec.domain_id and dec.status = 'pushed' returning d.id),
           dropped as (delete from package_domains p where p.domain_id in (select id from moved)),
           billed as (insert into billing_events (reseller_id, domain_id, job_id, kind, effective_from)
                      select v.r, m.id, ?::uuid, v.k, now() from moved m cross join (values (?::bigint, 'push_in'), (?::bigint, 'push_out')) v(r, k)),
           items as (insert into bulk_job_items (id, job_id, chunk, domain_name, product, status, reason, started_at, finished_at)
                     select dec.id, ?::uuid, ?, dec.name, 'domain', dec.status, dec.reason, now(), now() from dec order by dec.id
                     returning status)
           select count(*) filter (where status = 'pushed')::int as n from items`,
          [jobId, c, losingId, losingId, gainingId, targetProfile, jobId, gainingId, losingId, jobId, c],
        );
        pushed += rows[0].n;
      });
    }
  };
  await Promise.all([lane(), lane()]);
  const s = (performance.now() - t0) / 1000;
  if (pushed !== names.length) throw new Error(`chunk in SQL pushed ${pushed}, expected ${names.length}`);
  return {
    seconds: round(s, 3),
    domains_per_s: Math.round(names.length / s),
    pg_cpu_us_per_domain: Math.round((pgCpu.stop() * 1e6) / names.length),
  };
}

const PROFILES: Record<string, Record<string, unknown>> = {
  new: { mode: 'new' },
  existing: { mode: 'existing', domain: 'bench-target.example', username: 'bench-target', password: 'bench-target-password' },
  locked: { mode: 'new' },
};

/**
 * BENCH_AB_ROOT: this tree's worker (A) and another checkout's (B) in turns, A B then B A, each
 * started fresh, warmed up, and pushing one batch per mode; the same API, database and machine.
 */
async function abCompare(
  losing: { key: string; username: string },
  gaining: { username: string },
  redis: Redis,
  db: Db,
  start: (root: string) => Promise<number>,
) {
  const modes = [...MODES, ...(LOCKED_RUN ? ['locked' as const] : [])];
  const variants = [
    { name: 'A', root: path.resolve(__dirname, '..') },
    { name: 'B', root: AB_ROOT! },
  ];
  const plan: { round: number; v: (typeof variants)[number] }[] = [];
  for (let round = 0; round < ROUNDS; round++) for (const v of round % 2 ? [...variants].reverse() : variants) plan.push({ round, v });
  log(`A = ${variants[0].root}, B = ${variants[1].root}; ${ROUNDS} rounds of ${modes.join(', ')}; importing…`);
  const batch = (p: (typeof plan)[number], mode: string) => `${mode}-${p.round}-${p.v.name}`;
  for (const p of plan) {
    await importBatch(domainNames(`warm-${p.round}-${p.v.name}`, WARMUP), losing.username, 'warm');
    for (const mode of modes) await importBatch(domainNames(batch(p, mode)), losing.username, mode, mode === 'locked');
  }
  await db.raw('vacuum analyze');
  const runs: { mode: string; v: string; round: number; r: RunResult }[] = [];
  for (const p of plan) {
    const pid = await start(p.v.root);
    await warmUp(domainNames(`warm-${p.round}-${p.v.name}`, WARMUP), losing.key, gaining.username, { mode: 'new' });
    for (const mode of modes) {
      const r = await pushRun(mode, losing, gaining, domainNames(batch(p, mode)), PROFILES[mode], redis, pid, db, mode === 'locked');
      runs.push({ mode, v: p.v.name, round: p.round, r });
      log(
        `  round ${p.round} ${p.v.name} ${mode}: ${r.domains_per_s} domains/s, pg ${Math.round((r.cpu_s.postgres * 1e6) / r.domains)} µs/domain, ` +
          `phases ${r.phases_s.to_first_take} / ${r.phases_s.chunks} / ${r.phases_s.job_end} / ${r.phases_s.seen} s`,
      );
    }
  }
  const rows: [string, ...unknown[]][] = [];
  const perDomain = (s: number, n: number) => Math.round((s * 1e6) / n);
  for (const mode of modes) {
    const of = (v: string) => runs.filter((x) => x.mode === mode && x.v === v).map((x) => x.r);
    const a = of('A');
    const b = of('B');
    const ratios = a.map((x, i) => x.domains_per_s / b[i].domains_per_s);
    const geo = Math.exp(ratios.reduce((s, x) => s + Math.log(x), 0) / ratios.length);
    const sum = (xs: RunResult[], f: (r: RunResult) => number) => xs.reduce((s, x) => s + f(x), 0);
    rows.push([
      mode,
      a.map((x) => x.domains_per_s).join(' / '),
      b.map((x) => x.domains_per_s).join(' / '),
      ratios.map((x) => round(x, 3)).join(' / '),
      round(geo, 3),
      `${perDomain(
        sum(a, (x) => x.cpu_s.postgres),
        sum(a, (x) => x.domains),
      )} / ${perDomain(
        sum(b, (x) => x.cpu_s.postgres),
        sum(b, (x) => x.domains),
      )}`,
      `${perDomain(
        sum(a, (x) => x.cpu_s.worker),
        sum(a, (x) => x.domains),
      )} / ${perDomain(
        sum(b, (x) => x.cpu_s.worker),
        sum(b, (x) => x.domains),
      )}`,
    ]);
  }
  console.log('');
  console.log(`A/B: ${N} domains per run, ${ROUNDS} rounds, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`);
  console.log(
    table(rows, [
      'mode',
      'A domains/s (rounds)',
      'B domains/s (rounds)',
      'A/B per round',
      'A/B geo mean',
      'pg µs/domain A / B',
      'worker µs/domain A / B',
    ]),
  );
  console.log(JSON.stringify({ bench: 'push-ab', domains: N, rounds: ROUNDS, a: variants[0].root, b: variants[1].root, rows }));
}

function main() {
  const started = performance.now();
  runBench(
    {
      tag: 'bench',
      env: { CHUNK_SIZE: String(CHUNK_SIZE), WORKER_CONCURRENCY: String(CONCURRENCY), MAX_DOMAINS_PER_JOB: String(Math.max(N, 50_000)) },
      beforeStart: async (db) => {
        if (process.env.BENCH_EXPERIMENT_SQL) await db.raw(process.env.BENCH_EXPERIMENT_SQL);
      },
      onServer: (server, apiDb) => timeSubmits(server, apiDb),
    },
    async ({ db, redis, startWorker, workersReady }) => {
      const policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
      if (policy !== 'noeviction') log(`warning: Redis maxmemory-policy is ${policy}, BullMQ wants noeviction`);
      let worker: ChildProcess | undefined = AB_ROOT ? undefined : startWorker();

      log(`database ${DB_NAME}, prefix ${PREFIX}, ${N} domains, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`);
      const losing = await reseller('bench-losing');
      const gaining = await reseller('bench-gaining');
      const setLosing = await reseller('bench-set-losing');
      await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: losing.company_id }, [201]);
      const target = await ok(
        'POST',
        '/v1/profiles',
        gaining.key,
        {
          domain: 'bench-target.example',
          username: 'bench-target',
          password: 'bench-target-password',
        },
        [201],
      );
      void target;
      if (AB_ROOT) {
        await abCompare(losing, gaining, redis, db, async (root) => {
          if (worker) await stopProcess(worker);
          worker = startWorker({}, root);
          await workersReady([worker]);
          return workerPid(worker.pid!);
        });
        return;
      }

      const batches: Record<string, string[]> = {};
      const tImport = performance.now();
      log('importing…');
      for (const mode of MODES) {
        batches[mode] = domainNames(mode);
        await importBatch(batches[mode], losing.username, mode);
      }
      if (LOCKED_RUN) {
        batches.locked = domainNames('locked');
        await importBatch(batches.locked, losing.username, 'locked', true);
      }
      batches.set = domainNames('set');
      await importBatch(batches.set, setLosing.username, 'set');
      const sqlLosing = CHUNK_SQL ? await reseller('bench-sql-losing') : undefined;
      if (sqlLosing) {
        batches.sql = domainNames('sql');
        await importBatch(batches.sql, sqlLosing.username, 'sql');
      }
      batches.warm = domainNames('warm', WARMUP);
      await importBatch(batches.warm, losing.username, 'warm');
      await db.raw('vacuum analyze');
      log(`imported ${N * (MODES.length + 1 + (LOCKED_RUN ? 1 : 0))} domains in ${round((performance.now() - tImport) / 1000, 1)} s`);

      await workersReady([worker!]);
      const wpid = workerPid(worker!.pid!);
      const bootRss = procStatus(wpid);
      log(`worker pid ${wpid} ready, RSS ${round(bootRss.VmRSS ?? 0)} MB after boot`);
      await warmUp(batches.warm, losing.key, gaining.username, { mode: 'new' });
      if (WARMUP) log(`worker warmed up with a push of ${WARMUP} domains`);
      // Postgres reports table counters lazily: let the warm-up's arrive before the first run's
      // window opens, or they are counted as that run's writes (each later run waits for its own).
      if (TUPLES && WARMUP) await settledTupleStats(db);

      const results: RunResult[] = [];
      for (const mode of MODES) {
        const profile =
          mode === 'new'
            ? { mode: 'new' }
            : { mode: 'existing', domain: 'bench-target.example', username: 'bench-target', password: 'bench-target-password' };
        log(`pushing ${N} domains, profile mode ${mode}…`);
        const r = await pushRun(mode, losing, gaining, batches[mode], profile, redis, wpid, db);
        results.push(r);
        log(`  ${r.domains_per_s} domains/s end to end, submit ${r.submit_server_ms} ms server side`);
      }
      const ids = await db('resellers')
        .whereIn('username', [setLosing.username, gaining.username, sqlLosing?.username ?? setLosing.username])
        .select('id', 'username');
      const idOf = (u: string) => Number(ids.find((r) => r.username === u)!.id);
      const targetProfile = Number((await db('profiles').where({ username: 'bench-target' }).first('id')).id);
      const full: Record<string, Awaited<ReturnType<typeof fullWrites>>> = {};
      // The last push's results email (a 50,000-row CSV made by the relay) must not share the cores
      // with the limits, as it must not with the next push (pushRun).
      await outboxDrained(db);
      for (const mode of MODES) {
        log(`full-writes limit, mode ${mode}…`);
        full[mode] = await fullWrites(db, mode, idOf(setLosing.username), idOf(gaining.username), targetProfile, N);
      }
      let inSql: Awaited<ReturnType<typeof chunkInSql>> | undefined;
      if (sqlLosing) {
        log('a chunk done in Postgres (bound), mode existing…');
        inSql = await chunkInSql(db, idOf(sqlLosing.username), idOf(gaining.username), targetProfile, batches.sql);
      }
      const set = await setBased(db, idOf(setLosing.username), idOf(gaining.username), N);
      // The locked path: every domain locked, apply_to_locked, the database registry (the default).
      // After the limits: it writes each domain row four times, and the limits measured after it
      // ran on those tables at two thirds of their rate (mode `new` 18,061 against 24,073-25,182
      // domains/s the same hour), which flattered the ratios.
      let locked: RunResult | undefined;
      if (LOCKED_RUN) {
        log(`pushing ${N} locked domains with apply_to_locked, profile mode new…`);
        locked = await pushRun('locked new', losing, gaining, batches.locked, { mode: 'new' }, redis, wpid, db, true);
        log(`  ${locked.domains_per_s} domains/s end to end`);
      }
      const unlockedNew = results.find((r) => r.mode === 'new') ?? results[0];
      const fullOf = (r: RunResult) => full[r.mode.replace('locked ', '')];

      if (locked) results.push(locked);
      const rows: [string, ...unknown[]][] = [
        ['domains', ...results.map((r) => r.domains)],
        ['submit latency (POST /v1/bulk-pushes), ms', ...results.map((r) => r.submit_ms)],
        ['  server side (request → response sent), ms', ...results.map((r) => r.submit_server_ms)],
        [
          '  of which SQL: chunk rows / other, ms',
          ...results.map((r) => {
            const ins = Object.entries(r.submit_sql_ms)
              .filter(([k]) => k.startsWith('insert into bulk_job_chunks'))
              .reduce((a, [, v]) => a + v, 0);
            const other = Object.values(r.submit_sql_ms).reduce((a, v) => a + v, 0) - ins;
            return `${round(ins, 0)} / ${round(other, 0)}`;
          }),
        ],
        ['end to end (submit → completed seen via GET), s', ...results.map((r) => r.end_to_end_s)],
        ['end to end, domains/s', ...results.map((r) => r.domains_per_s)],
        [
          '  phases: to first take / chunks / job end / seen, s',
          ...results.map((r) => `${r.phases_s.to_first_take} / ${r.phases_s.chunks} / ${r.phases_s.job_end} / ${r.phases_s.seen}`),
        ],
        ['  the chunks alone, domains/s', ...results.map((r) => Math.round(r.domains / r.phases_s.chunks))],
        ['  server side (created_at → finished_at), domains/s', ...results.map((r) => r.server_domains_per_s)],
        ['set-based limit (one UPDATE of N rows), domains/s', ...results.map(() => set.domains_per_s)],
        ['ratio end to end / set-based', ...results.map((r) => round(r.domains_per_s / set.domains_per_s, 3))],
        ['full-writes limit (same writes, one transaction), domains/s', ...results.map((r) => fullOf(r)?.domains_per_s ?? '-')],
        ['  Postgres CPU per domain, µs', ...results.map((r) => fullOf(r)?.pg_cpu_us_per_domain ?? '-')],
        ['ratio end to end / full-writes', ...results.map((r) => (fullOf(r) ? round(r.domains_per_s / fullOf(r).domains_per_s, 3) : '-'))],
        [
          'a chunk done in Postgres, 2 lanes (bound), domains/s',
          ...results.map((r) => (inSql && r.mode === 'existing' ? inSql.domains_per_s : '-')),
        ],
        [
          '  ratio to full-writes / Postgres CPU per domain, µs',
          ...results.map((r) =>
            inSql && r.mode === 'existing'
              ? `${round(inSql.domains_per_s / fullOf(r).domains_per_s, 3)} / ${inSql.pg_cpu_us_per_domain}`
              : '-',
          ),
        ],
        [
          'ratio locked / unlocked (end to end)',
          ...results.map((r) => (r.mode.startsWith('locked') ? round(r.domains_per_s / unlockedNew.domains_per_s, 3) : '-')),
        ],
        ['Postgres CPU per domain in the run, µs', ...results.map((r) => Math.round((r.cpu_s.postgres * 1e6) / r.domains))],
        ['worker peak RSS sampled during run, MB', ...results.map((r) => r.worker_peak_rss_mb)],
        ['worker VmHWM after run (since start), MB', ...results.map((r) => r.worker_vmhwm_mb)],
        ['Redis used_memory before (whole server), MB', ...results.map((r) => r.redis_used_before_mb)],
        ['Redis used_memory peak, MB', ...results.map((r) => r.redis_peak_mb)],
        ['Redis used_memory delta (peak - before), MB', ...results.map((r) => r.redis_delta_mb)],
        ['Redis bench keys left after job (count / KB)', ...results.map((r) => `${r.bench_keys_after} / ${r.bench_keys_after_kb}`)],
        [
          'CPU s during run: worker / postgres / API+bench',
          ...results.map((r) => `${r.cpu_s.worker} / ${r.cpu_s.postgres} / ${r.cpu_s.api}`),
        ],
        [
          'item outcomes',
          ...results.map((r) =>
            Object.entries(r.counts)
              .map(([k, v]) => `${k} ${v}`)
              .join(', '),
          ),
        ],
      ];
      console.log('');
      console.log(
        `domain-push bench: ${N} domains, no locks, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}, ` +
          `${os.cpus().length} CPUs, one worker process (boot RSS ${round(bootRss.VmRSS ?? 0)} MB)`,
      );
      console.log(`set-based limit: ${set.rows} rows in ${set.seconds} s\n`);
      console.log(table(rows, ['', ...results.map((r) => `profile ${r.mode}`)]));
      console.log('');
      for (const r of results) {
        if (!r.tuples) continue;
        console.log(`writes per pushed domain, profile ${r.mode} (pg_stat_user_tables deltas ÷ ${r.domains}):`);
        const t = Object.entries(r.tuples).map(
          ([rel, v]) => [rel, v.ins, v.upd, v.hot, v.del, v.indexes, v.index_entries] as [string, ...unknown[]],
        );
        const sum = (k: 'ins' | 'upd' | 'del' | 'index_entries') =>
          round(
            Object.values(r.tuples!).reduce((a, v) => a + v[k], 0),
            2,
          );
        t.push(['total', sum('ins'), sum('upd'), '', sum('del'), '', sum('index_entries')]);
        console.log(table(t, ['table', 'insert', 'update', 'of which HOT', 'delete', 'indexes', 'index entries ≤']));
        console.log('');
      }
      console.log(
        JSON.stringify({
          bench: 'push',
          domains: N,
          chunk_size: CHUNK_SIZE,
          worker_concurrency: CONCURRENCY,
          cpus: os.cpus().length,
          worker_boot_rss_mb: round(bootRss.VmRSS ?? 0),
          set_based: set,
          full_writes: full,
          chunk_in_sql: inSql ?? null,
          runs: results.map((r) => ({
            ...r,
            ratio_to_set_based: round(r.domains_per_s / set.domains_per_s, 3),
            ratio_to_full_writes: fullOf(r) ? round(r.domains_per_s / fullOf(r).domains_per_s, 3) : null,
          })),
          total_s: round((performance.now() - started) / 1000, 1),
        }),
      );
    },
  );
}

main();
