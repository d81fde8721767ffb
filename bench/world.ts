/**
 * What every bench that pushes through the API stands on, made and removed in one place: its own
 * database (created, migrated, dropped), its own Redis key prefix (deleted), a data folder, the API
 * in this process on a free port (so a submit is timed server side), and the worker processes it
 * starts. Ctrl-C cleans up too.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { Redis } from 'ioredis';
import { createApp } from '../api/app';
import type { Config } from '../shared/platform/config';
import { loadConfig } from '../shared/platform/config';
import { createDb, migrate, type Db } from '../shared/platform/db';
import { createRuntime, type Runtime } from '../app/runtime';
import { DB_NAME, deletePrefix, log, OPERATOR_KEY, PG_BASE, PREFIX, REDIS_URL, setBaseUrl, sleep, spawnWorker, stopProcess } from './lib';

export interface BenchWorld {
  /** What the API runs with and each worker gets: the world's own settings and the bench's. */
  env: Record<string, string>;
  db: Db;
  rt: Runtime;
  server: Server;
  redis: Redis;
  /** A connection to the `postgres` database (the bench's server-wide probes). */
  admin: Knex;
  /** A worker process on the world's settings (plus `env`), from `root` (another checkout, for A/B); stopped at the end. */
  startWorker(env?: Record<string, string>, root?: string): ChildProcess;
  /** Resolves once `n` workers listen on the queue; throws if one of `workers` exited first. */
  workersReady(workers: ChildProcess[], n?: number): Promise<void>;
}

export interface WorldOptions {
  /** Names the temp data folder (`dp-<tag>-…`). */
  tag: string;
  /** The bench's own settings (CHUNK_SIZE, WORKER_CONCURRENCY, MAX_DOMAINS_PER_JOB, …). */
  env: Record<string, string>;
  /** Settings of the bench's own database connection (e.g. no statement timeout for seeding millions of rows). */
  db?: Partial<Config>;
  /** Runs on the migrated database before the API starts. */
  beforeStart?: (db: Db) => Promise<void>;
  /** Sees the API's server before the first request (to time requests server side). */
  onServer?: (server: Server, db: Db) => void;
}

/**
 * Runs one bench in a world of its own and removes it afterwards, whatever happened; exits the
 * process when done (its exit code, or 1 with the error), 130 on Ctrl-C after cleaning up.
 */
export function runBench(opts: WorldOptions, body: (world: BenchWorld) => Promise<void>): void {
  let interrupted = false;
  const admin = knexFactory({ client: 'pg', connection: `${PG_BASE}/postgres`, pool: { min: 0, max: 2 } });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `dp-${opts.tag}-`));
  const workers: ChildProcess[] = [];
  let rt: Runtime | undefined;
  let server: Server | undefined;
  let db: Db | undefined;

  const cleanup = async () => {
    await Promise.all(workers.map((w) => stopProcess(w)));
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
    log(`cleaned up: workers stopped, ${removed} Redis keys under ${PREFIX} deleted, database ${DB_NAME} dropped`);
  };
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted; cleaning up');
    cleanup().finally(() => process.exit(130));
  });

  const run = async () => {
    await admin.raw(`create database ${DB_NAME}`);
    const env = {
      DATABASE_URL: `${PG_BASE}/${DB_NAME}`,
      REDIS_URL,
      QUEUE_PREFIX: PREFIX,
      ADMIN_API_KEY: OPERATOR_KEY,
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      ...opts.env,
    };
    db = createDb({ DATABASE_URL: env.DATABASE_URL, ...opts.db });
    await migrate(db);
    await opts.beforeStart?.(db);
    rt = await createRuntime(loadConfig(env as NodeJS.ProcessEnv), { role: 'bench-api' });
    server = createApp(rt.deps).listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    setBaseUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    opts.onServer?.(server, rt.deps.db);
    const api = rt;
    await body({
      env,
      db,
      rt,
      server,
      redis,
      admin,
      startWorker(extra = {}, root) {
        // BENCH_CPU_PROF_DIR: each worker writes a V8 CPU profile there when it stops (open it in
        // Chrome's DevTools); the bench process itself: node --cpu-prof --import tsx bench/….
        const dir = process.env.BENCH_CPU_PROF_DIR;
        const w = spawnWorker(
          { ...env, ...extra },
          (code, signal) => {
            if (!interrupted) log(`a worker exited early: code ${code} signal ${signal}`);
          },
          root,
          dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [],
        );
        workers.push(w);
        return w;
      },
      async workersReady(started, n = started.length) {
        for (let t = 0; (await api.deps.queues.bulk.getWorkersCount()) < n; t++) {
          if (started.some((w) => w.exitCode !== null)) throw new Error('a worker process exited before it was ready');
          if (t > 600) throw new Error(`${n} worker(s) did not connect to the queue within 60 s`);
          await sleep(100);
        }
      },
    });
  };

  run()
    .finally(() => (interrupted ? undefined : cleanup()))
    .then(
      // A bench that missed a hard limit sets process.exitCode.
      () => process.exit(process.exitCode ?? 0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
}
