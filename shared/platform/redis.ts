import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

/** Workers wait out Redis blips (BullMQ requires maxRetriesPerRequest: null for blocking commands). */
export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/**
 * Logs a connection's errors without flooding: ioredis emits one per reconnect attempt while Redis
 * is away, so a message is logged when first seen and then at most once per `everyMs`.
 */
export function connectionErrorLogger(log: Logger, what: string, everyMs = 30_000): (err: Error) => void {
  const last = new Map<string, number>();
  return (err) => {
    const now = Date.now();
    const seen = last.get(err.message);
    if (seen !== undefined && now - seen < everyMs) return;
    last.set(err.message, now);
    log.warn({ err: err.message }, `${what} error`);
  };
}

/** The API's producer fails fast instead of queueing commands while Redis is away. */
export function producerConnection(url: string, log: Logger): Redis {
  const opts: RedisOptions = {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  const r = new Redis(url, opts);
  // Each request also gets its own 503 queue_unavailable; the log says why the producer is failing.
  r.on('error', connectionErrorLogger(log, 'redis producer connection'));
  return r;
}

export async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  const res = (await redis.config('GET', 'maxmemory-policy')) as string[];
  return res?.[1];
}

function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface RedisHandle {
  url: string;
  stop(): Promise<void>;
}

/**
 * REDIS_URL wins; otherwise a Redis on 127.0.0.1:6379; otherwise a private redis-server from PATH,
 * kept in DATA_DIR/redis and stopped with us.
 */
export async function ensureRedis(
  redisUrl: string | undefined,
  dataDir: string,
  log: Logger,
  usual = { port: 6379, path: process.env.PATH ?? '' },
): Promise<RedisHandle> {
  if (redisUrl) return { url: redisUrl, stop: async () => undefined };
  if (await portAnswers('127.0.0.1', usual.port)) return { url: `redis://127.0.0.1:${usual.port}`, stop: async () => undefined };
  const which = spawnSync('/bin/sh', ['-c', 'command -v redis-server'], { encoding: 'utf8', env: { PATH: usual.path } });
  const bin = which.stdout?.trim() ?? '';
  if (!bin) {
    throw new Error(
      `No Redis: REDIS_URL is unset, nothing answers on 127.0.0.1:${usual.port} and redis-server is not on PATH.\n` +
        'Install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), ' +
        'or run `docker compose up redis`, or set REDIS_URL=redis://host:port.',
    );
  }
  const dir = path.resolve(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 50 && !(await portAnswers('127.0.0.1', port)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  log.info({ port, bin }, 'started a private redis-server');
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
