/**
 * What the bench scenarios share (`bench/push.ts`, `bench/scale.ts`, `bench/backlog.ts`): the throwaway database and
 * queue prefix named after the process, process and Redis sampling from /proc and INFO, the HTTP
 * client of the in-process API, and seeding (resellers, 50,000 imported domains).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_NODE_ARGS } from '../bin/worker-command';
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';

export const N = Number(process.env.BENCH_DOMAINS ?? 50_000);
export const PG_BASE = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/$/, '');
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DB_NAME = `dp_bench_${process.pid}`;
export const PREFIX = `{bench-${process.pid}}`;
export const OPERATOR_KEY = `bench-operator-key-${process.pid}-0123456789`;
const IMPORT_BATCH = 10_000;
const PROFILES = 1000;
export const ROOT = path.resolve(__dirname, '..');

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- process and Redis sampling

export function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const m = /^(Vm\w+):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]] = Number(m[2]) / 1024;
    }
  } catch {
    // process gone
  }
  return out;
}

/**
 * The process whose memory we report: the spawned one, or, if a wrapper such as the `tsx` CLI
 * started node as its child, the deepest descendant running bin/worker.ts.
 */
export function workerPid(rootPid: number): number {
  const children = (pid: number) => {
    const out: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
      } catch {
        // raced with an exiting process
      }
    }
    return out;
  };
  const runsWorker = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bin/worker.ts');
    } catch {
      return false;
    }
  };
  let found = rootPid;
  let level = [rootPid];
  while (level.length) {
    level = level.flatMap(children).filter(runsWorker);
    if (level.length) found = level[0];
  }
  return found;
}

/** utime + stime in seconds (USER_HZ is 100 on Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU of each Postgres backend serving the bench database (their title names it), by pid. */
function backendCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(` ${DB_NAME} `)) cpu.set(Number(entry), cpuSeconds(Number(entry)));
    } catch {
      // gone
    }
  }
  return cpu;
}

/**
 * Postgres CPU of the bench database's backends from now until `stop()`, read every 50 ms: a
 * backend that ends meanwhile (a pool closing an idle connection) keeps what it had used by its
 * last reading, where two readings of the total (before, after) lost all of it and could come out
 * negative. A backend born meanwhile counts whole.
 */
export function postgresCpuMeter(): { stop(): number } {
  const first = backendCpu();
  const last = new Map(first);
  const read = () => {
    for (const [pid, cpu] of backendCpu()) {
      if (!first.has(pid)) first.set(pid, 0);
      last.set(pid, cpu);
    }
  };
  const timer = setInterval(read, 50);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      read();
      let total = 0;
      for (const [pid, cpu] of last) total += cpu - (first.get(pid) ?? 0);
      return total;
    },
  };
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

export async function prefixKeys(redis: Redis): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    for (const k of batch) {
      keys++;
      bytes += Number((await redis.memory('USAGE', k)) ?? 0);
    }
    cursor = next;
  } while (cursor !== '0');
  return { keys, bytes };
}

export async function deletePrefix(redis: Redis): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    if (keys.length) n += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}

/** Samples until stopped; the caller reads peaks. */
export function sampler(redis: Redis, pid: number) {
  let redisPeak = 0;
  let rssPeak = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      redisPeak = Math.max(redisPeak, await usedMemory(redis).catch(() => 0));
      rssPeak = Math.max(rssPeak, procStatus(pid).VmRSS ?? 0);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { redisPeak, rssPeak };
    },
  };
}

// ---------------------------------------------------------------- HTTP

let baseUrl = '';

/** Where `call` and `ok` send requests: the in-process API of the running bench. */
export function setBaseUrl(url: string) {
  baseUrl = url;
}

/** The API answers with JSON objects; each caller reads the fields it asked for. */
export type Json = Record<string, unknown>;

/** What the benches read of GET /v1/jobs/{id}. */
export interface JobView {
  status: string;
  counts: Record<string, number>;
  created_at: string;
  finished_at: string;
}

export async function call(method: string, url: string, key: string, body?: unknown): Promise<{ status: number; body: Json; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(baseUrl + url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  return { status: res.status, body: text ? JSON.parse(text) : null, ms };
}

export async function ok(method: string, url: string, key: string, body: unknown, expected: number[]) {
  const res = await call(method, url, key, body);
  if (!expected.includes(res.status)) throw new Error(`${method} ${url} → ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
  return res;
}

export async function reseller(username: string) {
  const res = await ok(
    'POST',
    '/v1/admin/resellers',
    OPERATOR_KEY,
    {
      username,
      name: `${username} Ltd`,
      email: `ops@${username}.example`,
      domain_push_enabled: true,
    },
    [201],
  );
  return { username, key: res.body.api_key as string, company_id: res.body.company_id as string };
}

export function domainNames(batch: string, n = N) {
  return Array.from({ length: n }, (_, i) => `bench-${batch}-${String(i).padStart(6, '0')}.example`);
}

/** 1,000 distinct registrant profiles; a few carry a password so its hash travels with `new` profiles. */
export async function importBatch(names: string[], owner: string, batch: string, locked = false) {
  for (let start = 0; start < names.length; start += IMPORT_BATCH) {
    const rows = names.slice(start, start + IMPORT_BATCH).map((name, j) => {
      const p = (start + j) % PROFILES;
      return {
        name,
        reseller: owner,
        locked,
        profile: {
          username: `${batch}-reg-${p}`,
          ...(p % 100 === 0 ? { password: `secret-${p}-pw` } : {}),
          contact: { first_name: 'Reg', last_name: `Nr ${p}`, email: `reg${p}@${owner}.example`, country: 'NL' },
        },
      };
    });
    const res = await ok('POST', '/v1/admin/domains/import', OPERATOR_KEY, rows, [201]);
    if (res.body.imported !== rows.length) throw new Error(`import: ${res.body.imported} of ${rows.length} imported`);
  }
}

/** Submits a push and polls its view until it ends; throws unless every domain was pushed. */
export async function pushAndWait(losingKey: string, body: Json, pollMs: number): Promise<JobView> {
  const submit = await ok('POST', '/v1/bulk-pushes', losingKey, body, [202]);
  for (;;) {
    const view = (await ok('GET', `/v1/jobs/${submit.body.id}`, losingKey, undefined, [200])).body as unknown as JobView;
    if (['completed', 'cancelled', 'failed'].includes(view.status)) {
      const total = (body.domains as string[]).length;
      if (view.status !== 'completed' || view.counts.pushed !== total)
        throw new Error(`job ${submit.body.id} ended ${view.status} with ${JSON.stringify(view.counts)}`);
      return view;
    }
    await sleep(pollMs);
  }
}

/**
 * Domains pushed through freshly started workers before a measured run (`BENCH_WARMUP` per worker
 * process, 0 to skip): a deployment's workers run for days, so a run measures them warm (code
 * compiled and optimized by V8, pools open), not their first seconds, which every extra process
 * would otherwise pay again inside the figure it is compared on.
 */
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);

export async function warmUp(names: string[], losingKey: string, gaining: string, profile: Json): Promise<void> {
  if (names.length === 0) return;
  await pushAndWait(losingKey, { gaining_reseller: gaining, domains: names, profile }, 100);
}

export function table(rows: [string, ...unknown[]][], header: string[]) {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ---------------------------------------------------------------- worker processes

/**
 * A worker process as `npm run start:worker` runs it, without npm in between; `root` runs the worker
 * of another checkout (an A/B comparison against the code before a change, `BENCH_AB_ROOT`).
 */
export function spawnWorker(
  env: Record<string, string>,
  onEarlyExit: (code: number | null, signal: string | null) => void,
  root = ROOT,
  nodeArgs: string[] = [],
): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, ...WORKER_NODE_ARGS], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') onEarlyExit(code, signal);
  });
  return child;
}

/** SIGTERM (a graceful stop), SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', () => r(true)));
  child.kill('SIGTERM');
  if (!(await Promise.race([exited, sleep(graceMs).then(() => false)]))) child.kill('SIGKILL');
}
