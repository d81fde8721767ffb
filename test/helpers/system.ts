import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type request from 'supertest';
import { closeApp, createApp } from '../../api/app';
import { loadConfig, type Config } from '../../shared/platform/config';
import type { Db } from '../../shared/platform/db';
import type { RegistryGateway } from '../../shared/catalog/registry';
import type { Logger } from '../../shared/platform/logger';
import type { RedisClient } from '../../shared/platform/redis';
import type { KindTable } from '../../shared/bulk/kind';
import { createRuntime, type Runtime } from '../../app/runtime';
import { startWorker, type WorkerRuntime } from '../../worker/runtime';
import { checkedRequest, serveChecked } from './conformance';
import { createTestDb, type TestDb } from './db';
import { startSmtp, type SmtpPeer } from './smtp';

export const OPERATOR_KEY = 'test-operator-key-0123456789';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let prefixCounter = 0;

export interface TestSystem {
  config: Config;
  rt: Runtime;
  db: Db;
  testDb: TestDb;
  smtp: SmtpPeer;
  server: Server;
  url: string;
  worker?: WorkerRuntime;
  http(): ReturnType<typeof request>;
  startWorker(): Promise<WorkerRuntime>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

export interface SystemOptions {
  config?: Partial<Config>;
  registry?: (db: Db) => RegistryGateway;
  clock?: () => Date;
  worker?: boolean;
  /** Runs on the system's fresh database before the runtime starts (e.g. to give it its own deployment id). */
  beforeStart?: (db: Db) => Promise<void>;
  /** Where the system logs (default: silent unless TEST_LOG_LEVEL). */
  log?: Logger;
  /** The bulk kinds the system runs (default: shared/kinds.ts); a test adds a fixture kind. */
  kinds?: KindTable;
}

/**
 * The whole system, really started: its own Postgres database, its own Redis key prefix, a real
 * SMTP peer, the HTTP server on port 0, and (unless worker: false) a BullMQ worker in-process.
 */
export async function startSystem(opts: SystemOptions = {}): Promise<TestSystem> {
  const testDb = await createTestDb();
  // A start that fails half way (a runtime or worker that cannot start) removes what it made: the
  // suite's after() sees no system to stop, and its database would outlive the run.
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  let sys: TestSystem | undefined;
  try {
    await opts.beforeStart?.(testDb.db);
    smtp = await startSmtp();
    sys = await startedSystem(opts, testDb, smtp);
    if (opts.worker !== false) await sys.startWorker();
    return sys;
  } catch (err) {
    if (sys) await sys.stop().catch(() => undefined);
    else {
      await smtp?.close().catch(() => undefined);
      await testDb.drop().catch(() => undefined);
    }
    throw err;
  }
}

async function startedSystem(
  opts: SystemOptions,
  testDb: Awaited<ReturnType<typeof createTestDb>>,
  smtp: Awaited<ReturnType<typeof startSmtp>>,
): Promise<TestSystem> {
  const prefix = `{dptest-${process.pid}-${++prefixCounter}}`;
  const config = loadConfig(
    {},
    {
      DATABASE_URL: testDb.url,
      REDIS_URL,
      SMTP_URL: smtp.url,
      ADMIN_API_KEY: OPERATOR_KEY,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL as Config['LOG_LEVEL']) ?? 'silent',
      OUTBOX_INTERVAL_MS: 100,
      RECONCILE_INTERVAL_MS: 3_600_000,
      WORKER_LOCK_MS: 5_000,
      CHUNK_SIZE: 100,
      ...opts.config,
    },
  );
  const rt = await createRuntime(config, {
    role: 'test',
    db: testDb.db,
    registry: opts.registry,
    clock: opts.clock,
    log: opts.log,
    kinds: opts.kinds,
  });
  // Every answer is checked against the OpenAPI document, on the wire and in http()'s requests.
  const app = createApp(rt.deps);
  const server = serveChecked(app, rt.deps);
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sys: TestSystem = {
    config: rt.deps.config,
    rt,
    db: testDb.db,
    testDb,
    smtp,
    server,
    url,
    http: () => checkedRequest(url),
    async startWorker() {
      sys.worker = await startWorker(rt.deps, rt.workerRedis());
      return sys.worker;
    },
    async stopWorker() {
      await sys.worker?.stop();
      sys.worker = undefined;
    },
    async stop() {
      await sys.stopWorker();
      closeApp(app);
      await new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      });
      await deletePrefixKeys(rt.deps.config.QUEUE_PREFIX!, rt.workerRedis());
      await rt.close();
      await smtp.close();
      await testDb.drop();
    },
  };
  return sys;
}

/**
 * Removes only the keys under `prefix` (a system's, or a spawned process's); tests never flush what
 * they did not create. Without a client it opens one on REDIS_URL for the call.
 */
export async function deletePrefixKeys(prefix: string, client?: RedisClient): Promise<void> {
  const redis = client ?? new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    if (!client) redis.disconnect();
  }
}
