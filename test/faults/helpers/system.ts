import { spawn, type ChildProcess } from 'node:child_process';
import { WORKER_NODE_ARGS } from '../../../bin/worker-command';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import knexFactory from 'knex';
import request from 'supertest';
import { closeApp, createApp } from '../../../api/app';
import { loadConfig, type Config } from '../../../shared/platform/config';
import { migrate, migrationConfig, type Db } from '../../../shared/platform/db';
import { createRuntime, type Runtime } from '../../../app/runtime';
import { OPERATOR_KEY, type TestSystem } from '../../helpers/system';
import { startSmtp, type SmtpPeer } from '../../helpers/smtp';
import { startPgCluster, startRedisServer, type PgCluster, type RedisServer } from './servers';

const ROOT = path.resolve(__dirname, '../../..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed, stdout and stderr, as lines. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * A system on servers of its own: a private Postgres cluster and redis-server, an SMTP peer, the
 * API in-process (its Redis URL may go through a proxy), and workers as OS processes started the
 * way `npm run start:worker` starts them.
 */
export interface FaultSystem extends TestSystem {
  pg: PgCluster;
  redis: RedisServer;
  workers: WorkerProcess[];
  spawnWorker(extraEnv?: Record<string, string>): WorkerProcess;
  killWorkers(): Promise<void>;
}

export const WORKER_ENV = {
  CHUNK_SIZE: '20',
  WORKER_CONCURRENCY: '2',
  WORKER_LOCK_MS: '3000',
  RECONCILE_INTERVAL_MS: '2000',
  OUTBOX_INTERVAL_MS: '200',
  SHUTDOWN_TIMEOUT_MS: '10000',
  LOG_LEVEL: 'info',
};

export async function startFaultSystem(opts: { apiRedisUrl?: (redis: RedisServer) => Promise<string> } = {}): Promise<FaultSystem> {
  const pg = await startPgCluster();
  const redis = await startRedisServer();
  const smtp: SmtpPeer = await startSmtp();
  const admin = knexFactory({ client: 'pg', connection: pg.url(), pool: { min: 0, max: 1 } });
  await admin.raw('create database dp_faults');
  await admin.destroy();
  const databaseUrl = pg.url('dp_faults');
  const quiet = () => undefined;
  // The test's (and in-process API's) pool: its connection errors during an outage are expected.
  const db: Db = knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: 10 },
    migrations: migrationConfig(),
    log: { warn: quiet, error: quiet, deprecate: quiet, debug: quiet },
  });
  await migrate(db);
  const prefix = '{dpfaults}';
  const config: Config = loadConfig(
    {},
    {
      DATABASE_URL: databaseUrl,
      REDIS_URL: opts.apiRedisUrl ? await opts.apiRedisUrl(redis) : redis.url,
      SMTP_URL: smtp.url,
      ADMIN_API_KEY: OPERATOR_KEY,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as Config['LOG_LEVEL']) ?? 'silent',
      CHUNK_SIZE: Number(WORKER_ENV.CHUNK_SIZE),
      WORKER_LOCK_MS: Number(WORKER_ENV.WORKER_LOCK_MS),
    },
  );
  const rt: Runtime = await createRuntime(config, { role: 'test-api', db });
  const app = createApp(rt.deps);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers: WorkerProcess[] = [];

  const sys: FaultSystem = {
    config: rt.deps.config,
    rt,
    db,
    testDb: { name: 'dp_faults', url: databaseUrl, db, drop: async () => undefined },
    smtp,
    server,
    url,
    pg,
    redis,
    workers,
    http: () => request(url),
    startWorker: () => Promise.reject(new Error('fault tests run workers as processes: spawnWorker()')),
    stopWorker: async () => undefined,
    spawnWorker(extraEnv = {}) {
      const child = spawn(process.execPath, WORKER_NODE_ARGS, {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: databaseUrl,
          REDIS_URL: redis.url,
          QUEUE_PREFIX: prefix,
          SMTP_URL: smtp.url,
          ADMIN_API_KEY: OPERATOR_KEY,
          ...WORKER_ENV,
          ...extraEnv,
        },
      });
      const lines: string[] = [];
      const collect = (stream: NodeJS.ReadableStream) => {
        let rest = '';
        stream.on('data', (b) => {
          const parts = (rest + String(b)).split('\n');
          rest = parts.pop() ?? '';
          lines.push(...parts);
        });
        stream.on('end', () => rest && lines.push(rest));
      };
      collect(child.stdout!);
      collect(child.stderr!);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const w: WorkerProcess = {
        child,
        lines,
        exited,
        async kill(signal) {
          if (child.exitCode === null && child.signalCode === null) {
            try {
              process.kill(-child.pid!, signal);
            } catch {
              // already gone
            }
          }
          // At most 15 s; the timer is cleared once the child is gone, or it holds the run open.
          let bound: NodeJS.Timeout | undefined;
          await Promise.race([exited, new Promise((r) => (bound = setTimeout(r, 15_000)))]);
          clearTimeout(bound);
        },
      };
      workers.push(w);
      return w;
    },
    async killWorkers() {
      await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    },
    async stop() {
      await sys.killWorkers();
      closeApp(app);
      await new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      });
      await rt.close();
      await db.destroy();
      await smtp.close();
      await redis.destroy();
      await pg.destroy();
    },
  };
  return sys;
}

/** Lines a worker printed that are not JSON objects (every log line must be one). */
export function nonJsonLines(w: WorkerProcess): string[] {
  return w.lines.filter((l) => {
    if (!l.trim()) return false;
    try {
      const v = JSON.parse(l);
      return typeof v !== 'object' || v === null;
    } catch {
      return true;
    }
  });
}
