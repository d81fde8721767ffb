/**
 * `npm run bench:fairness`: one deployment shared by several resellers, API and worker each in
 * their own process (as `npm run start:api` / `start:worker` run them), the bench a pure client.
 *
 * 1. Event streams: 50 resellers each hold 10 Server-Sent Event streams (the per-key cap) on a job
 *    of theirs: 500 streams. Meanwhile another tenant calls GET /v1/me; we report its latency.
 * 2. Fair share: one reseller queues 20 jobs x 50,000 domains (its whole quota); then another
 *    reseller submits a 10-domain job. We report how long that small job takes, submit to completed.
 *
 * Needs Postgres and Redis; creates its own database and queue prefix and removes both at the end.
 * Env: BENCH_BIG_JOBS (20), BENCH_BIG_DOMAINS (50000), BENCH_STREAM_TENANTS (50), BENCH_STREAMS_PER_TENANT
 * (10), BENCH_ME_REQUESTS (300), CHUNK_SIZE (1000), WORKER_CONCURRENCY (2), BENCH_PG_URL, BENCH_REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_NODE_ARGS } from '../bin/worker-command';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { Queue } from 'bullmq';
import { createDb, migrate } from '../shared/platform/db';
import { QUEUE_NAMES } from '../shared/platform/queues';
import { freePort } from '../shared/platform/ports';

const BIG_JOBS = Number(process.env.BENCH_BIG_JOBS ?? 20);
const BIG_DOMAINS = Number(process.env.BENCH_BIG_DOMAINS ?? 50_000);
const STREAM_TENANTS = Number(process.env.BENCH_STREAM_TENANTS ?? 50);
const STREAMS_PER_TENANT = Number(process.env.BENCH_STREAMS_PER_TENANT ?? 10);
const ME_REQUESTS = Number(process.env.BENCH_ME_REQUESTS ?? 300);
const CHUNK_SIZE = Number(process.env.CHUNK_SIZE ?? 1000);
const CONCURRENCY = Number(process.env.WORKER_CONCURRENCY ?? 2);
const PG_BASE = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB_NAME = `dp_fair_${process.pid}`;
const PREFIX = `{benchfair-${process.pid}}`;
const OPERATOR_KEY = `bench-operator-key-${process.pid}-0123456789`;
const ROOT = path.resolve(__dirname, '..');

const log = (msg: string) => process.stderr.write(`[bench:fairness] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

let baseUrl = '';
// Plain keep-alive requests for the latency probe; streams get their own sockets.
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

async function call(method: string, url: string, key: string, body?: unknown) {
  const t0 = performance.now();
  const res = await fetch(baseUrl + url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, ms: performance.now() - t0 };
}

async function ok(method: string, url: string, key: string, body: unknown, expected: number[]) {
  const res = await call(method, url, key, body);
  if (!expected.includes(res.status)) throw new Error(`${method} ${url} → ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  return res;
}

/** GET through a keep-alive agent (fetch's pool is shared with nothing here, but this keeps sockets warm). */
function timedGet(url: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(baseUrl + url, { agent, headers: { authorization: `Bearer ${key}` } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`GET ${url} → ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function reseller(username: string) {
  const res = await ok(
    'POST',
    '/v1/admin/resellers',
    OPERATOR_KEY,
    { username, name: `${username} Ltd`, email: `ops@${username}.example`, domain_push_enabled: true },
    [201],
  );
  return { username, key: res.body.api_key as string, company_id: res.body.company_id as string };
}

/** Opens one event stream and resolves once its first event arrived; `close` ends it. */
function openStream(url: string, key: string): Promise<{ close(): void; events: () => number }> {
  return new Promise((resolve, reject) => {
    let events = 0;
    const req = http.get(
      baseUrl + url,
      { agent: false, headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream ${url} → ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          const before = events;
          events += (d.match(/^event: /gm) ?? []).length;
          if (before === 0 && events > 0) resolve({ close: () => req.destroy(), events: () => events });
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (e) => (events === 0 ? reject(e) : undefined));
  });
}

function spawnProcess(script: string, env: Record<string, string>): ChildProcess {
  const args = script === 'bin/worker.ts' ? WORKER_NODE_ARGS : ['--import', 'tsx', script];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function stopProcess(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))), sleep(15_000).then(() => false)]);
  if (!exited) child.kill('SIGKILL');
}

async function deletePrefix(redis: Redis): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length) n += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function main() {
  const started = performance.now();
  const admin = knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 1 } });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-fair-'));
  let api: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  const streams: { close(): void }[] = [];
  const cleanup = async () => {
    for (const s of streams) s.close();
    agent.destroy();
    await stopProcess(worker);
    await stopProcess(api);
    const removed = await deletePrefix(redis).catch(() => 0);
    await admin.raw(`drop database if exists ${DB_NAME} with (force)`).catch((e) => log(`drop database failed: ${e.message}`));
    await admin.destroy();
    redis.disconnect();
    fs.rmSync(dataDir, { recursive: true, force: true });
    log(`cleaned up: processes stopped, ${removed} Redis keys under ${PREFIX} deleted, database ${DB_NAME} dropped`);
  };
  process.once('SIGINT', () => {
    log('interrupted; cleaning up');
    cleanup().finally(() => process.exit(130));
  });

  try {
    await admin.raw(`create database ${DB_NAME}`);
    const port = await freePort();
    const env: Record<string, string> = {
      DATABASE_URL: `${PG_BASE}/${DB_NAME}`,
      REDIS_URL,
      QUEUE_PREFIX: PREFIX,
      ADMIN_API_KEY: OPERATOR_KEY,
      CHUNK_SIZE: String(CHUNK_SIZE),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      MAX_DOMAINS_PER_JOB: String(Math.max(BIG_DOMAINS, 50_000)),
      MAX_OPEN_JOBS_PER_RESELLER: String(Math.max(BIG_JOBS, 20)),
      MAX_OPEN_ITEMS_PER_RESELLER: String(Math.max(BIG_JOBS * BIG_DOMAINS, 1_000_000)),
      SSE_MAX_STREAMS_PER_KEY: String(STREAMS_PER_TENANT),
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      PORT: String(port),
    };
    const db = createDb({ DATABASE_URL: env.DATABASE_URL });
    await migrate(db);
    await db.destroy();
    api = spawnProcess('bin/api.ts', env);
    baseUrl = `http://127.0.0.1:${port}`;
    await waitFor('the API to answer', async () => (await fetch(`${baseUrl}/healthz`).catch(() => null))?.status === 200, 60_000);
    log(
      `database ${DB_NAME}, prefix ${PREFIX}, API pid ${api.pid} on port ${port}; CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`,
    );

    const gaining = await reseller('gaining');
    const big = await reseller('big');
    const small = await reseller('small');
    for (const r of [big, small]) await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: r.company_id }, [201]);
    const smallNames = Array.from({ length: 10 }, (_, i) => `small-${i}.example`);
    await ok(
      'POST',
      '/v1/admin/domains/import',
      OPERATOR_KEY,
      smallNames.map((name) => ({ name, reseller: 'small' })),
      [201],
    );

    // ---------------------------------------------------------------- 1. 500 streams, another tenant's GET /v1/me
    // No worker yet: the watched jobs stay queued, so every stream stays open.
    const watchers: { key: string; jobId: string }[] = [];
    for (let i = 0; i < STREAM_TENANTS; i++) {
      const w = await reseller(`watcher-${i}`);
      await ok('POST', '/v1/push-settings/allowed-resellers', gaining.key, { reseller: w.company_id }, [201]);
      const job = await ok('POST', '/v1/bulk-pushes', w.key, { gaining_reseller: 'gaining', domains: [`watched-${i}.example`] }, [202]);
      watchers.push({ ...w, jobId: job.body.id as string });
    }
    const meBefore: number[] = [];
    for (let i = 0; i < 50; i++) meBefore.push(await timedGet('/v1/me', small.key));
    const tOpen = performance.now();
    for (const w of watchers) {
      const opened = await Promise.all(Array.from({ length: STREAMS_PER_TENANT }, () => openStream(`/v1/jobs/${w.jobId}/events`, w.key)));
      streams.push(...opened);
    }
    const openS = (performance.now() - tOpen) / 1000;
    const refusedExtra = await new Promise<number>((resolve) => {
      http
        .get(
          `${baseUrl}/v1/jobs/${watchers[0].jobId}/events`,
          { agent: false, headers: { authorization: `Bearer ${watchers[0].key}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', () => resolve(0));
    });
    log(`${streams.length} streams open in ${round(openS, 1)} s (one more on a full key: ${refusedExtra}); probing GET /v1/me…`);
    const me: number[] = [];
    for (let i = 0; i < ME_REQUESTS; i++) me.push(await timedGet('/v1/me', small.key));
    me.sort((a, b) => a - b);
    meBefore.sort((a, b) => a - b);
    for (const s of streams.splice(0)) s.close();
    for (const w of watchers) await ok('POST', `/v1/jobs/${w.jobId}/cancel`, w.key, undefined, [202]);
    const sse = {
      streams: STREAM_TENANTS * STREAMS_PER_TENANT,
      tenants: STREAM_TENANTS,
      streams_per_key: STREAMS_PER_TENANT,
      extra_stream_status: refusedExtra,
      me_requests: me.length,
      me_p50_ms: round(percentile(me, 50)),
      me_p95_ms: round(percentile(me, 95)),
      me_p99_ms: round(percentile(me, 99)),
      me_p95_without_streams_ms: round(percentile(meBefore, 95)),
    };

    // ---------------------------------------------------------------- 2. 10 domains behind 20 x 50,000
    worker = spawnProcess('bin/worker.ts', env);
    const queue = new Queue(QUEUE_NAMES.bulk, { connection: redis, prefix: PREFIX });
    await waitFor('the worker to connect', async () => (await queue.getWorkersCount()) > 0, 120_000);
    await queue.close();
    const tQueue = performance.now();
    const bigJobs: string[] = [];
    for (let j = 0; j < BIG_JOBS; j++) {
      // Names that are not on the platform: each item is decided (failed/not_found) and written like
      // any other, which keeps 1,000,000 items affordable to set up.
      const domains = Array.from({ length: BIG_DOMAINS }, (_, i) => `big-${j}-${String(i).padStart(6, '0')}.example`);
      bigJobs.push((await ok('POST', '/v1/bulk-pushes', big.key, { gaining_reseller: 'gaining', domains }, [202])).body.id);
    }
    const queuedS = (performance.now() - tQueue) / 1000;
    const bigOpen = async () => {
      let open = 0;
      for (const id of bigJobs) {
        const v = (await ok('GET', `/v1/jobs/${id}`, big.key, undefined, [200])).body;
        open += v.counts.pending + v.counts.running;
      }
      return open;
    };
    // The big reseller's work is under way (as it would be on a live system), not waiting for a worker.
    await waitFor('the big jobs to be under way', async () => (await bigOpen()) < BIG_JOBS * BIG_DOMAINS, 120_000, 250);
    const openAtSubmit = await bigOpen();
    log(
      `${BIG_JOBS} x ${BIG_DOMAINS} queued in ${round(queuedS, 1)} s (${openAtSubmit} items still open); submitting 10 domains of another reseller…`,
    );
    const t0 = performance.now();
    const submit = await ok('POST', '/v1/bulk-pushes', small.key, { gaining_reseller: 'gaining', domains: smallNames }, [202]);
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers and log lines, read field by field in the assertions
    let view: any;
    for (;;) {
      view = (await ok('GET', `/v1/jobs/${submit.body.id}`, small.key, undefined, [200])).body;
      if (['completed', 'cancelled', 'failed'].includes(view.status)) break;
      await sleep(25);
    }
    const endToEnd = (performance.now() - t0) / 1000;
    const openAtEnd = await bigOpen();
    for (const id of bigJobs) await ok('POST', `/v1/jobs/${id}/cancel`, big.key, undefined, [202, 409]);
    if (view.status !== 'completed' || view.counts.pushed !== 10)
      throw new Error(`small job ended ${view.status}: ${JSON.stringify(view.counts)}`);
    const fairness = {
      big_jobs: BIG_JOBS,
      big_domains_per_job: BIG_DOMAINS,
      big_items_open_at_submit: openAtSubmit,
      big_items_open_when_small_done: openAtEnd,
      small_domains: 10,
      small_submit_to_completed_s: round(endToEnd, 3),
      small_server_s: round((new Date(view.finished_at).getTime() - new Date(view.created_at).getTime()) / 1000, 3),
      small_queue_wait_s: round((new Date(view.started_at).getTime() - new Date(view.created_at).getTime()) / 1000, 3),
    };

    console.log('');
    console.log(
      `domain-push tenancy bench: ${os.cpus().length} CPUs, API and worker in their own processes, CHUNK_SIZE ${CHUNK_SIZE}, WORKER_CONCURRENCY ${CONCURRENCY}`,
    );
    console.log(
      `  event streams: ${sse.streams} open (${sse.tenants} tenants x ${sse.streams_per_key}, the per-key cap; one more → ${sse.extra_stream_status})`,
    );
    console.log(
      `    another tenant's GET /v1/me over ${sse.me_requests} calls: p50 ${sse.me_p50_ms} ms, p95 ${sse.me_p95_ms} ms, p99 ${sse.me_p99_ms} ms` +
        ` (p95 before the streams: ${sse.me_p95_without_streams_ms} ms) — target p95 < 100 ms`,
    );
    console.log(
      `  fair share: ${BIG_JOBS} x ${BIG_DOMAINS} domains of one reseller queued (${openAtSubmit} items open), then 10 domains of another:`,
    );
    console.log(
      `    submit → completed ${fairness.small_submit_to_completed_s} s (server side ${fairness.small_server_s} s, waited ${fairness.small_queue_wait_s} s for a worker)` +
        ` — target < 2 s; ${openAtEnd} items of the big reseller were still open`,
    );
    console.log('');
    console.log(
      JSON.stringify({ bench: 'fairness', cpus: os.cpus().length, sse, fairness, total_s: round((performance.now() - started) / 1000, 1) }),
    );
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
