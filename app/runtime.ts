import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../shared/platform/config';
import { createDb, migrate, type Db } from '../shared/platform/db';
import { claimQueuePrefix, databaseFingerprint, deploymentId, prefixFor, QueuePrefixTaken } from '../shared/platform/deployment';
import { untilNoTransientFault } from '../shared/platform/faults';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../shared/platform/embedded-postgres';
import { createLogger, type Logger } from '../shared/platform/logger';
import { createMailer } from '../shared/mail/mailer';
import { outboxBacklog } from '../shared/mail/outbox';
import { createMetrics } from '../shared/platform/metrics';
import { createQueues } from '../shared/platform/queues';
import {
  clusterHandle,
  clusterReady,
  connectionErrorLogger,
  ensureRedis,
  oneShotConnection,
  producerConnection,
  workerConnection,
  type RedisClient,
  type RedisHandle,
} from '../shared/platform/redis';
import { DbRegistry, type RegistryGateway } from '../shared/catalog/registry';
import { withCircuitBreaker } from '../shared/catalog/registry-breaker';
import type { BulkDeps, KindTable } from '../shared/bulk/kind';
import { KINDS } from '../shared/kinds';
import { dropPackageLinksSql } from '../shared/customers/packages';
import { newSecret } from '../shared/platform/secrets';
import { createAuthThrottle } from '../shared/platform/throttle';

/** How long start-up waits for a Redis Cluster's ready check before building the queue (clusterReady). */
const CLUSTER_READY_WAIT_MS = 10_000;

export interface Runtime {
  /** The platform's parts plus the bulk kind table: everything a process hands its services. */
  deps: BulkDeps;
  redisHandle: RedisHandle;
  /** The embedded Postgres when DATABASE_URL is unset (and no db was handed in). */
  embedded?: EmbeddedPostgres;
  /** Long-lived connection for workers (maxRetriesPerRequest: null). */
  workerRedis(): RedisClient;
  close(): Promise<void>;
}

/**
 * The operator key: ADMIN_API_KEY, or one generated once and kept in DATA_DIR so a newcomer's
 * `npm start` prints the same key every time.
 */
function resolveOperatorKey(config: Config): string {
  if (config.ADMIN_API_KEY) return config.ADMIN_API_KEY;
  const file = path.resolve(config.DATA_DIR, 'operator-key');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const key = newSecret('dpo');
  fs.writeFileSync(file, key + '\n', { mode: 0o600 });
  return key;
}

export async function createRuntime(
  base: Config,
  opts: {
    role: string;
    db?: Db;
    registry?: (db: Db) => RegistryGateway;
    clock?: () => Date;
    migrate?: boolean;
    /** A logger of the caller's (tests read the JSON lines it writes). */
    log?: Logger;
    /** The bulk kinds this process runs (default: `shared/kinds.ts`); a test adds a fixture kind. */
    kinds?: KindTable;
  } = { role: 'all' },
): Promise<Runtime> {
  const log = opts.log ?? createLogger(base.LOG_LEVEL, { role: opts.role });
  const embedded = opts.db || base.DATABASE_URL ? undefined : await startEmbeddedPostgres(base.DATA_DIR, log);
  const db = opts.db ?? createDb({ ...base, DATABASE_URL: base.DATABASE_URL ?? embedded!.url }, log);
  let redisHandle: RedisHandle | undefined;
  let redis: RedisClient | undefined;
  let config: Config;
  try {
    // A process started while Postgres is restarting waits for it (JSON lines), not dies.
    if (opts.migrate) await untilNoTransientFault(log, 'migrating', () => migrate(db));
    const prefix = base.QUEUE_PREFIX ?? prefixFor(await untilNoTransientFault(log, 'reading the deployment id', () => deploymentId(db)));
    config = Object.freeze({ ...base, ADMIN_API_KEY: resolveOperatorKey(base), QUEUE_PREFIX: prefix });
    redisHandle = config.REDIS_CLUSTER_NODES
      ? clusterHandle(config.REDIS_CLUSTER_NODES)
      : await ensureRedis(config.REDIS_URL, config.DATA_DIR, log);
    redis = producerConnection(redisHandle, log);
    // Its own short-lived connection: the producer's has no offline queue and is not ready yet.
    const claimer = oneShotConnection(redisHandle);
    claimer.on('error', () => undefined);
    const fingerprint = await untilNoTransientFault(log, 'reading the database fingerprint', () => databaseFingerprint(db));
    await claimQueuePrefix(claimer, prefix, fingerprint)
      .catch((err) => {
        if (err instanceof QueuePrefixTaken) throw err;
        // Redis is away: the API still starts (and answers 503); a worker claims before taking work.
        log.warn({ prefix, err: (err as Error).message }, 'could not check who owns the queue prefix yet');
      })
      .finally(() => claimer.disconnect());
  } catch (err) {
    redis?.disconnect();
    await redisHandle?.stop();
    if (!opts.db) await db.destroy();
    await embedded?.stop();
    throw err;
  }
  // BullMQ would keep a failed start of the queue on a Cluster caught mid ready check (clusterReady).
  if (!(await clusterReady(redis, CLUSTER_READY_WAIT_MS)))
    log.warn({ waited_ms: CLUSTER_READY_WAIT_MS }, 'the Redis Cluster is not ready yet; starting anyway');
  const queues = createQueues(redis, config.QUEUE_PREFIX!, log);
  // The auth throttle reads Redis on every authenticated request, through MULTIs; on the producer's
  // connection, where BullMQ defines its Lua scripts, ioredis copies every script onto each MULTI
  // (~20 KB of garbage each, two per request: the largest allocator of an API read). Its own
  // connection, with the same fail-fast options, has none.
  const throttleRedis = producerConnection(redisHandle, log, 'redis auth-throttle connection');
  const mailer = createMailer(config.SMTP_URL, config);
  const workerConns: RedisClient[] = [];
  const metrics = createMetrics();
  // The platform's /metrics names no domain: the gauges kept in the domains' tables are read here.
  metrics.readAtScrape(async () => metrics.outboxBacklog.set(await outboxBacklog(db)));
  const deps: BulkDeps = {
    config,
    db,
    redis,
    queues,
    registry: withCircuitBreaker((opts.registry ?? ((d) => new DbRegistry(d)))(db)),
    mailer,
    packages: { dropForMovedSql: dropPackageLinksSql },
    metrics,
    log,
    authThrottle: createAuthThrottle(throttleRedis, config, log),
    clock: opts.clock ?? (() => new Date()),
    kinds: opts.kinds ?? KINDS,
  };
  // A kind's own gauges (a push: domains left unlocked past the bound), read at each scrape.
  for (const kind of Object.values(deps.kinds)) {
    const read = kind.readAtScrape;
    if (read) metrics.readAtScrape(() => read(deps));
  }
  const handle = redisHandle;
  return {
    deps,
    redisHandle: handle,
    embedded,
    workerRedis() {
      const c = workerConnection(handle);
      c.on('error', connectionErrorLogger(log, 'redis worker connection'));
      workerConns.push(c);
      return c;
    },
    async close() {
      await queues.close().catch(() => undefined);
      redis.disconnect();
      throttleRedis.disconnect();
      for (const c of workerConns) c.disconnect();
      mailer.close();
      if (!opts.db) await db.destroy();
      await handle.stop();
      await embedded?.stop();
    },
  };
}
