import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../shared/platform/ports';
import { waitUntil } from '../../helpers/wait';

/**
 * Private servers for fault tests: a Postgres cluster and a redis-server of our own, on free
 * ports in temp dirs, so a test can restart, kill or stop them without touching the shared ones.
 */

export function portAnswers(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The machine's Postgres binaries: `pg_config --bindir`, else the newest Debian install. */
function pgBin(): string {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    const root = '/usr/lib/postgresql';
    const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
    if (!versions.length) throw new Error('no Postgres server binaries: install postgresql (initdb, pg_ctl)');
    return path.join(root, versions[versions.length - 1], 'bin');
  }
}
const PG_BIN = pgBin();
/** Postgres refuses to run as root: as root we act as the `postgres` OS user. */
const AS_ROOT = process.getuid?.() === 0;

function pgTool(tool: string, args: string[]) {
  const bin = path.join(PG_BIN, tool);
  const [cmd, argv] = AS_ROOT ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  // cwd '/': the postgres user may not be allowed into the project's directory.
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
}

export interface PgCluster {
  port: number;
  url(db?: string): string;
  /** `pg_ctl restart -m fast`: connections are cut, the server is back within a couple of seconds. */
  restartFast(): Promise<void>;
  /** SIGKILL to the postmaster (its backends die with it); `start()` brings it back with crash recovery. */
  killPostmaster(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPgCluster(): Promise<PgCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-faults-pg-'));
  const data = path.join(dir, 'data');
  if (AS_ROOT) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  fs.chmodSync(dir, 0o700);
  pgTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const ready = () => portAnswers(port).then(async (up) => up && pgReady(port));
  const cluster: PgCluster = {
    port,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async restartFast() {
      pgTool('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-m', 'fast', '-w', 'restart']);
      await waitUntil('postgres after restart', ready, 30_000, 50);
    },
    async killPostmaster() {
      const pid = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      process.kill(pid, 'SIGKILL');
      await waitUntil('postgres to go away', async () => !(await portAnswers(port)), 10_000, 50);
    },
    async stop(mode = 'fast') {
      if (!fs.existsSync(path.join(data, 'postmaster.pid'))) return;
      pgTool('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
    },
    async start() {
      // After a SIGKILL the old backends notice their postmaster died and exit; until then the
      // shared memory block is in use and a new postmaster refuses to start.
      let last: unknown;
      await waitUntil(
        () => {
          try {
            pgTool('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', 'start']);
            return true;
          } catch (err) {
            last = err;
            return false;
          }
        },
        { timeout: 30_000, interval: 200, label: () => `postgres to start (last: ${String(last)})` },
      );
      await waitUntil('postgres after start', ready, 30_000, 50);
    },
    async destroy() {
      try {
        await cluster.stop('immediate');
      } catch {
        // already down
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

async function pgReady(port: number): Promise<boolean> {
  try {
    execFileSync(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q']);
    return true;
  } catch {
    return false;
  }
}

export interface RedisServer {
  port: number;
  url: string;
  /** Stops it (SHUTDOWN SAVE when `keepData`, so a later start finds its jobs again; else no data). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dp-faults-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: 'ignore' },
      );
      await waitUntil('redis-server', () => portAnswers(port), 15_000, 50);
    },
    async stop(opts = {}) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      if (opts.keepData) {
        execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'save']);
      } else {
        fs.rmSync(path.join(dir, 'dump.rdb'), { force: true });
        c.kill('SIGKILL');
      }
      await exited;
      child = null;
    },
    async destroy() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/**
 * A TCP proxy in front of Redis that forwards everything, until a command containing `trigger`
 * passes through: from then on that connection's replies are dropped (Redis did the work, the
 * client never hears it), and after `holdMs` the connection is cut so the client reconnects.
 */
export interface ReplyDropper {
  url: string;
  /** How many connections had their replies dropped. */
  dropped(): number;
  arm(trigger: string, holdMs: number): void;
  close(): Promise<void>;
}

export async function startReplyDropper(target: number): Promise<ReplyDropper> {
  let armed: { trigger: string; holdMs: number } | null = null;
  let drops = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    let dropping = false;
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (buf) => {
      if (armed && !dropping && buf.includes(armed.trigger)) {
        dropping = true;
        drops++;
        setTimeout(end, armed.holdMs);
        armed = null;
      }
      upstream.write(buf);
    });
    upstream.on('data', (buf) => {
      if (!dropping) client.write(buf);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    dropped: () => drops,
    arm(trigger, holdMs) {
      armed = { trigger, holdMs };
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
