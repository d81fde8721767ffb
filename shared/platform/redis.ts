import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger';
import { delayFor, type RetryPolicy } from './retry';
import { freePort } from './ports';

/** A connection to one Redis or to a Redis Cluster; BullMQ and our few direct commands take either. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server's URL, or a cluster's seed nodes (REDIS_CLUSTER_NODES). */
interface RedisTarget {
  url: string;
  cluster?: ClusterSeeds;
}

interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  /** Credentials and TLS of the seed entries, applied to every node the cluster reports. */
  auth: Pick<RedisOptions, 'username' | 'password' | 'tls'>;
}

/**
 * Parses REDIS_CLUSTER_NODES: comma-separated `host:port` or `redis[s]://[user:password@]host:port`.
 * Credentials (and TLS) come from the first entry that has them; a cluster shares one ACL.
 */
export function parseClusterNodes(spec: string): ClusterSeeds {
  const nodes: ClusterSeeds['nodes'] = [];
  const auth: ClusterSeeds['auth'] = {};
  // Errors name the entry by position, never by text: it may carry a password.
  spec.split(',').forEach((entry, i) => {
    const raw = entry.trim();
    if (!raw) return;
    let u: URL;
    try {
      u = new URL(raw.includes('://') ? raw : `redis://${raw}`);
    } catch {
      throw new Error(`entry ${i + 1} is not host:port`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`entry ${i + 1} is not redis:// or rediss://`);
    const port = Number(u.port);
    if (!u.hostname || !Number.isInteger(port) || port < 1) throw new Error(`entry ${i + 1} has no host:port`);
    nodes.push({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    if (u.password && auth.password === undefined) {
      auth.password = decodeURIComponent(u.password);
      if (u.username) auth.username = decodeURIComponent(u.username);
    }
    if (u.protocol === 'rediss:') auth.tls = {};
  });
  if (nodes.length === 0) throw new Error('no node given');
  return { nodes, auth };
}

const asTarget = (t: string | RedisTarget): RedisTarget => (typeof t === 'string' ? { url: t } : t);

/**
 * How every connection (workers' and the API producer's) reconnects while Redis is away: the one
 * retry policy, ceilings 200, 400, 800, 1,600 ms, then 2 s for ever, full jitter. ioredis's own
 * default (50 ms more per try, no jitter) brings every process of a deployment back in the same
 * instant when Redis returns.
 */
export const REDIS_RECONNECT: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 200, factor: 2, capMs: 2_000, jitter: 'full' };

/** ioredis's `retryStrategy` and `clusterRetryStrategy` (a cluster's nodes never retry on their own): `times` is 1 first. */
export const reconnectDelay = (times: number): number => delayFor(REDIS_RECONNECT, times - 1);

/** Workers wait out Redis blips (BullMQ requires maxRetriesPerRequest: null for blocking commands). */
export function workerConnection(target: string | RedisTarget): RedisClient {
  const { url, cluster } = asTarget(target);
  if (cluster) {
    return new Cluster(cluster.nodes, {
      clusterRetryStrategy: reconnectDelay,
      redisOptions: { ...cluster.auth, maxRetriesPerRequest: null, enableReadyCheck: true },
    });
  }
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: reconnectDelay });
}

/** A connection for a few commands at start: one try, no reconnects (the caller disconnects it). */
export function oneShotConnection(target: string | RedisTarget): RedisClient {
  const { url, cluster } = asTarget(target);
  const opts = { maxRetriesPerRequest: 1, connectTimeout: 2000 };
  if (cluster) return new Cluster(cluster.nodes, { clusterRetryStrategy: () => null, redisOptions: { ...cluster.auth, ...opts } });
  return new Redis(url, { ...opts, retryStrategy: () => null });
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
export function producerConnection(target: string | RedisTarget, log: Logger, label = 'redis producer connection'): RedisClient {
  const { url, cluster } = asTarget(target);
  const failFast = { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 5000 };
  const r: RedisClient = cluster
    ? new Cluster(cluster.nodes, {
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelay,
        redisOptions: { ...cluster.auth, ...failFast },
      })
    : new Redis(url, { ...failFast, enableOfflineQueue: false, retryStrategy: reconnectDelay });
  // Each request also gets its own 503 queue_unavailable; the log says why the producer is failing.
  r.on('error', connectionErrorLogger(log, label));
  return r;
}

/**
 * Resolves true once a Redis Cluster connection is ready, false after `timeoutMs` (a cluster that
 * is away at start: the process still starts, as it does with one Redis away); true at once for
 * one Redis, whose `ready` BullMQ waits for itself.
 *
 * Why: BullMQ takes a Cluster's `connect` status as ready and sends its first command (INFO) then;
 * on a connection without an offline queue that command fails ("Cluster isn't ready"), and BullMQ
 * keeps that failed start for the life of the queue: every later call on it fails the same way.
 * A Cluster is `connect` while its ready check runs, so a queue must not be built on it before.
 */
export async function clusterReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (!(client instanceof Cluster)) return true;
  if (client.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      resolve(ready);
    };
    const onReady = () => done(true);
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}

/** On a cluster every master must be noeviction: the first master saying otherwise is reported. */
export async function evictionPolicy(redis: RedisClient): Promise<string | undefined> {
  const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  if (servers.length === 0) throw new Error('no Redis Cluster master is connected');
  let policy: string | undefined;
  for (const server of servers) {
    const res = (await server.config('GET', 'maxmemory-policy')) as string[];
    policy = res?.[1];
    if (policy !== 'noeviction') return policy;
  }
  return policy;
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

export interface RedisHandle extends RedisTarget {
  stop(): Promise<void>;
}

/** A Redis Cluster is always the operator's: nothing to start or stop, only its seeds to describe. */
export function clusterHandle(spec: string): RedisHandle {
  const cluster = parseClusterNodes(spec);
  return {
    url: `redis-cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
    cluster,
    stop: async () => undefined,
  };
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
