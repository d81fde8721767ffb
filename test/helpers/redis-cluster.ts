import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitUntil } from './resilience';

/** One master of a private cluster: its port and the redis-server currently serving it. */
interface ClusterNode {
  port: number;
  proc: ChildProcess;
}

export interface LocalCluster {
  /** The REDIS_CLUSTER_NODES value: every master as 127.0.0.1:port. */
  nodes: string;
  ports: number[];
  /** The port of the master serving `key`'s hash slot. */
  masterOf(key: string): Promise<number>;
  /** What a crash does: SIGKILL; the node is gone until `start(port)`. */
  kill(port: number): Promise<void>;
  /** Starts the node again with the same cluster config file (same id and slots) and no data. */
  start(port: number): Promise<void>;
  /** Waits until every node reports cluster_state:ok and knows every master as connected. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** True when nothing listens on `port` of 127.0.0.1 (we can bind it ourselves). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port for a cluster node: the node also listens on port + 10,000 (the cluster bus), and
 * redis-server exits when that would pass 65,535, so the kernel's ephemeral ports (up to 60,999)
 * will not do. Both ports must be free, and distinct from the ones already taken.
 */
async function freeNodePort(taken: number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const clash = taken.some((t) => Math.abs(t - port) === 10_000 || t === port);
    if (!clash && (await canBind(port)) && (await canBind(port + 10_000))) return port;
  }
  throw new Error('no free port pair (port and port + 10000) for a cluster node');
}

/** A short-lived plain connection to one node (cluster-unaware: it sees only that node). */
async function onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/**
 * A real three-master Redis Cluster without replicas or persistence, in a temp dir, on free ports;
 * what `redis-server --cluster-enabled yes` plus `redis-cli --cluster create` give an operator.
 */
export async function startLocalCluster(masters = 3): Promise<LocalCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-cluster-'));
  const nodes = new Map<number, ClusterNode>();
  const spawnNode = (port: number) => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    nodes.set(port, { port, proc });
  };
  const answers = (port: number) =>
    onNode(port, (r) => r.ping()).then(
      () => true,
      () => false,
    );

  const cluster: LocalCluster = {
    nodes: '',
    ports: [],
    async masterOf(key) {
      const port = cluster.ports[0];
      const slot = Number(await onNode(port, (r) => r.call('CLUSTER', 'KEYSLOT', key)));
      const ranges = (await onNode(port, (r) => r.call('CLUSTER', 'SLOTS'))) as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return Number(range[2][1]);
    },
    async kill(port) {
      const node = nodes.get(port)!;
      if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
      const exited = new Promise((r) => node.proc.once('exit', r));
      node.proc.kill('SIGKILL');
      await exited;
    },
    async start(port) {
      spawnNode(port);
      await waitUntil(`redis-server on ${port}`, () => answers(port), 10_000, 50);
    },
    async waitHealthy(timeoutMs = 20_000) {
      await waitUntil(
        'cluster_state:ok on every node',
        async () => {
          for (const port of cluster.ports) {
            const ok = await onNode(port, async (r) => {
              const info = (await r.call('CLUSTER', 'INFO')) as string;
              const view = (await r.call('CLUSTER', 'NODES')) as string;
              const masters = view.split('\n').filter((l) => l.includes('master') && !l.includes('fail') && l.includes('connected'));
              return info.includes('cluster_state:ok') && masters.length === cluster.ports.length;
            }).catch(() => false);
            if (!ok) return false;
          }
          return true;
        },
        timeoutMs,
        100,
      );
    },
    async stop() {
      for (const port of nodes.keys()) await cluster.kill(port);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 0; i < masters; i++) {
      const port = await freeNodePort(cluster.ports);
      cluster.ports.push(port);
      spawnNode(port);
    }
    for (const port of cluster.ports) await waitUntil(`redis-server on ${port}`, () => answers(port), 10_000, 50);
    cluster.nodes = cluster.ports.map((p) => `127.0.0.1:${p}`).join(',');
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...cluster.ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
