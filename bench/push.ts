/**
 * `npm run bench`: 50,000 domains pushed through the real API and one worker process, compared
 * with the set-based limit (one SQL UPDATE moving as many rows). Needs Postgres and Redis; it
 * creates its own database and queue prefix and removes both at the end.
 *
 * Env: BENCH_DOMAINS (50000), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2), BENCH_MODES ("new,existing"),
 * BENCH_POLL_MS (250), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL
 * (redis://127.0.0.1:6379), BENCH_EXPERIMENT_SQL (run on the throwaway database after migrating, to
 * measure a schema change before writing its migration).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { createApp } from '../api/app';
import { loadConfig } from '../shared/platform/config';
import { createDb, migrate, type Db } from '../shared/platform/db';
import { createRuntime, type Runtime } from '../shared/platform/runtime';
import {
  cpuSeconds,
  DB_NAME,
  deletePrefix,
  domainNames,
  importBatch,
  log,
  N,
  ok,
  OPERATOR_KEY,
  PG_BASE,
  postgresCpu,
  PREFIX,
  prefixKeys,
  procStatus,
  REDIS_URL,
  reseller,
  ROOT,
  round,
  sampler,
  setBaseUrl,
  sleep,
  table,
  usedMemory,
  workerPid,
} from './lib';

const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const MODES = (process.env.BENCH_MODES ?? 'new,existing')
  .split(',')
  .map((m) => m.trim())
  .filter(Boolean) as ('new' | 'existing')[];
// Each GET counts the job's items; polling much faster than this takes CPU from the run it measures.
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 250);

// ---------------------------------------------------------------- the run

interface RunResult {
  mode: string;
  domains: number;
  submit_ms: number;
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
}

async function pushRun(
  mode: 'new' | 'existing',
  losing: { key: string },
  gaining: { username: string },
  names: string[],
  profile: Record<string, unknown>,
  redis: Redis,
  workerProc: number,
): Promise<RunResult> {
  const before = await usedMemory(redis);
  const sample = sampler(redis, workerProc);
  const cpu0 = { worker: cpuSeconds(workerProc), pg: postgresCpu(), api: process.cpuUsage() };
  const t0 = performance.now();
  const submit = await ok('POST', '/v1/bulk-pushes', losing.key, { gaining_reseller: gaining.username, domains: names, profile }, [202]);
  const jobId = submit.body.id as string;
  let view: { status: string; counts: Record<string, number>; created_at: string; finished_at: string };
  for (;;) {
    view = (await ok('GET', `/v1/jobs/${jobId}`, losing.key, undefined, [200])).body as typeof view;
    if (['completed', 'cancelled', 'failed'].includes(view.status)) break;
    await sleep(POLL_MS);
  }
  const t1 = performance.now();
  const apiCpu = process.cpuUsage(cpu0.api);
  const cpu = {
    worker: round(cpuSeconds(workerProc) - cpu0.worker, 2),
    postgres: round(postgresCpu() - cpu0.pg, 2),
    api: round((apiCpu.user + apiCpu.system) / 1e6, 2),
  };
  const peaks = await sample.stop();
  const after = await usedMemory(redis);
  const footprint = await prefixKeys(redis);
  if (view.status !== 'completed' || view.counts.pushed !== names.length) {
    throw new Error(`job ${jobId} ended ${view.status} with ${JSON.stringify(view.counts)}`);
  }
  const e2e = (t1 - t0) / 1000;
  const server = (new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000;
  const mb = (b: number) => round(b / 1024 / 1024, 2);
  return {
    mode,
    domains: names.length,
    submit_ms: round(submit.ms, 0),
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

async function main() {
  const started = performance.now();
  const admin = knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 1 } });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-bench-'));
  let rt: Runtime | undefined;
  let server: Server | undefined;
  let worker: ChildProcess | undefined;
  let db: Db | undefined;
  const cleanup = async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      const exited = await Promise.race([new Promise((r) => worker!.once('exit', () => r(true))), sleep(10_000).then(() => false)]);
      if (!exited) worker.kill('SIGKILL');
    }
    if (server) {
      const s = server;
      await new Promise((r) => {
        s.close(r);
        s.closeAllConnections();
      });
    }
    await rt?.close().catch(() => undefined);
    await db?.destroy().catch(() => undefined);
    const removed = await deletePrefix(redis).catch(() => 0);
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch((e) => log(`drop database failed: ${e.message}`));
    await admin.destroy();
    redis.disconnect();
    fs.rmSync(dataDir, { recursive: true, force: true });
    log(`cleaned up: worker stopped, ${removed} Redis keys under ${PREFIX} deleted, database ${DB_NAME} dropped`);
  };
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted; cleaning up');
    cleanup().finally(() => process.exit(130));
  });

  try {
    const policy = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1];
    if (policy !== 'noeviction') log(`warning: Redis maxmemory-policy is ${policy}, BullMQ wants noeviction`);
    await admin.raw(`create database ${DB_NAME}`);
    const env = {
      DATABASE_URL: `${PG_BASE}/${DB_NAME}`,
      REDIS_URL,
      QUEUE_PREFIX: PREFIX,
      ADMIN_API_KEY: OPERATOR_KEY,
      CHUNK_SIZE: String(CHUNK_SIZE),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      MAX_DOMAINS_PER_JOB: String(Math.max(N, 50_000)),
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
    };
    db = createDb({ DATABASE_URL: env.DATABASE_URL });
    await migrate(db);
    if (process.env.BENCH_EXPERIMENT_SQL) await db.raw(process.env.BENCH_EXPERIMENT_SQL);

    const config = loadConfig(env as NodeJS.ProcessEnv);
    rt = await createRuntime(config, { role: 'bench-api' });
    server = createApp(rt.deps).listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    setBaseUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);

    // As `npm run start:worker` runs it, without npm in between.
    worker = spawn(process.execPath, ['--import', 'tsx', 'bin/worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    worker.once('exit', (code, signal) => {
      if (!interrupted && code !== 0 && signal !== 'SIGTERM') log(`worker exited early: code ${code} signal ${signal}`);
    });

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

    const batches: Record<string, string[]> = {};
    const tImport = performance.now();
    for (const mode of MODES) {
      batches[mode] = domainNames(mode);
      await importBatch(batches[mode], losing.username, mode);
    }
    batches.set = domainNames('set');
    await importBatch(batches.set, setLosing.username, 'set');
    await db.raw('vacuum analyze');
    log(`imported ${N * (MODES.length + 1)} domains in ${round((performance.now() - tImport) / 1000, 1)} s`);

    for (let i = 0; ; i++) {
      if (worker.exitCode !== null) throw new Error('the worker process exited before it was ready');
      if ((await rt.deps.queues.bulk.getWorkersCount()) > 0) break;
      if (i > 600) throw new Error('the worker did not connect to the queue within 60 s');
      await sleep(100);
    }
    const wpid = workerPid(worker.pid!);
    const bootRss = procStatus(wpid);
    log(`worker pid ${wpid} ready, RSS ${round(bootRss.VmRSS ?? 0)} MB after boot`);

    const results: RunResult[] = [];
    for (const mode of MODES) {
      const profile =
        mode === 'new'
          ? { mode: 'new' }
          : { mode: 'existing', domain: 'bench-target.example', username: 'bench-target', password: 'bench-target-password' };
      log(`pushing ${N} domains, profile mode ${mode}…`);
      const r = await pushRun(mode, losing, gaining, batches[mode], profile, redis, wpid);
      results.push(r);
      log(`  ${r.domains_per_s} domains/s end to end`);
    }

    const ids = await db('resellers').whereIn('username', [setLosing.username, gaining.username]).select('id', 'username');
    const idOf = (u: string) => Number(ids.find((r) => r.username === u)!.id);
    const set = await setBased(db, idOf(setLosing.username), idOf(gaining.username), N);

    const rows: [string, ...unknown[]][] = [
      ['domains', ...results.map((r) => r.domains)],
      ['submit latency (POST /v1/bulk-pushes), ms', ...results.map((r) => r.submit_ms)],
      ['end to end (submit → completed seen via GET), s', ...results.map((r) => r.end_to_end_s)],
      ['end to end, domains/s', ...results.map((r) => r.domains_per_s)],
      ['  server side (created_at → finished_at), domains/s', ...results.map((r) => r.server_domains_per_s)],
      ['set-based limit (one UPDATE of N rows), domains/s', ...results.map(() => set.domains_per_s)],
      ['ratio end to end / set-based', ...results.map((r) => round(r.domains_per_s / set.domains_per_s, 3))],
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
    console.log(
      JSON.stringify({
        bench: 'push',
        domains: N,
        chunk_size: CHUNK_SIZE,
        worker_concurrency: CONCURRENCY,
        cpus: os.cpus().length,
        worker_boot_rss_mb: round(bootRss.VmRSS ?? 0),
        set_based: set,
        runs: results.map((r) => ({ ...r, ratio_to_set_based: round(r.domains_per_s / set.domains_per_s, 3) })),
        total_s: round((performance.now() - started) / 1000, 1),
      }),
    );
  } finally {
    if (!interrupted) await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
