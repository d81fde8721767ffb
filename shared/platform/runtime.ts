import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createDb, migrate, type Db } from './db';
import { createLogger, type Logger } from './logger';
import { createMailer } from '../mail/mailer';
import { createMetrics } from './metrics';
import { createQueues } from './queues';
import { connectionErrorLogger, ensureRedis, producerConnection, workerConnection, type RedisHandle } from './redis';
import { DbRegistry, type RegistryGateway } from '../catalog/registry';
import type { BulkDeps } from '../bulk/kind';
import { KINDS } from '../kinds';
import { newSecret } from './secrets';
import { createAuthThrottle } from './throttle';

export interface Runtime {
  /** The platform's parts plus the bulk kind table: everything a process hands its services. */
  deps: BulkDeps;
  redisHandle: RedisHandle;
  /** Long-lived connection for workers (maxRetriesPerRequest: null). */
  workerRedis(): Redis;
  close(): Promise<void>;
}

/**
 * The operator key: ADMIN_API_KEY, or one generated once and kept in DATA_DIR so a newcomer's
 * `npm start` prints the same key every time.
 */
export function resolveOperatorKey(config: Config): string {
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
  } = { role: 'all' },
): Promise<Runtime> {
  const config: Config = Object.freeze({ ...base, ADMIN_API_KEY: resolveOperatorKey(base) });
  const log = opts.log ?? createLogger(config.LOG_LEVEL, { role: opts.role });
  const db = opts.db ?? createDb(config, log);
  if (opts.migrate) await migrate(db);
  const redisHandle = await ensureRedis(config.REDIS_URL, config.DATA_DIR, log);
  const redis = producerConnection(redisHandle.url, log);
  const queues = createQueues(redis, config.QUEUE_PREFIX, log);
  const mailer = createMailer(config.SMTP_URL);
  const workerConns: Redis[] = [];
  const deps: BulkDeps = {
    config,
    db,
    redis,
    queues,
    registry: (opts.registry ?? ((d) => new DbRegistry(d)))(db),
    mailer,
    metrics: createMetrics(),
    log,
    authThrottle: createAuthThrottle(redis, config, log),
    clock: opts.clock ?? (() => new Date()),
    kinds: KINDS,
  };
  return {
    deps,
    redisHandle,
    workerRedis() {
      const c = workerConnection(redisHandle.url);
      c.on('error', connectionErrorLogger(log, 'redis worker connection'));
      workerConns.push(c);
      return c;
    },
    async close() {
      await queues.close().catch(() => undefined);
      redis.disconnect();
      for (const c of workerConns) c.disconnect();
      mailer.close();
      if (!opts.db) await db.destroy();
      await redisHandle.stop();
    },
  };
}
