import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PausePoint } from '../../../shared/platform/pause-points';
import { waitUntil } from '../../helpers/resilience';
import type { FaultSystem, WorkerProcess } from './system';

/**
 * Freezing worker processes at named points (shared/platform/pause-points.ts): a worker started
 * with `pausedAt(...)` writes a marker and stops itself (SIGSTOP) there; the test waits for the
 * marker, lets time pass (the lease runs out, another worker takes over), then resumes it with
 * SIGCONT or kills it.
 */

export interface Marker {
  pid: number;
  point: PausePoint;
  occurrence: number;
  seq: number;
  kind: 'paused' | 'passed';
  at: number;
}

/** A directory of markers for one scenario. */
export function markerDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dp-pause-${label.replace(/[^a-z0-9-]/gi, '-')}-`));
}

/**
 * The environment that makes a worker freeze at `spec` (`take:1`, `take:1,after_unlock:1`,
 * `take:p=0.2`). Workers of one scenario share `dir`: each rule freezes one process only, and a
 * process freezes once (DOMAIN_PUSH_PAUSE_ONCE).
 */
export function pauseEnv(dir: string, spec: string, opts: { seed?: number; trace?: boolean } = {}): Record<string, string> {
  return {
    DOMAIN_PUSH_PAUSE_AT: spec,
    DOMAIN_PUSH_PAUSE_DIR: dir,
    DOMAIN_PUSH_PAUSE_TRACE: opts.trace === false ? '0' : '1',
    DOMAIN_PUSH_PAUSE_ONCE: '1',
    DOMAIN_PUSH_PAUSE_SEED: String(opts.seed ?? 1),
  };
}

export function markers(dir: string, pid?: number): Marker[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => pid === undefined || f.startsWith(`${pid}.`))
    .map((f) => {
      try {
        return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Marker;
      } catch {
        return null; // being written
      }
    })
    .filter((m): m is Marker => m !== null)
    .sort((a, b) => a.at - b.at || a.seq - b.seq);
}

/** Waits until `w` has reached `point` (frozen there when kind is 'paused'); fails early if it exited. */
export async function waitForPoint(
  dir: string,
  w: WorkerProcess,
  point: PausePoint,
  opts: { kind?: 'paused' | 'passed' | 'any'; timeoutMs?: number } = {},
): Promise<Marker> {
  const kind = opts.kind ?? 'paused';
  return waitUntil(
    () => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) {
        throw new Error(`worker ${w.child.pid} exited before reaching ${point}: ${w.lines.slice(-5).join(' | ')}`);
      }
      return markers(dir, w.child.pid).find((m) => m.point === point && (kind === 'any' || m.kind === kind)) ?? null;
    },
    { timeout: opts.timeoutMs ?? 60_000, interval: 20, label: () => `worker ${w.child.pid} to reach ${point} (${kind})` },
  );
}

/** The first of several workers to freeze at any point: which one and where. */
export async function waitForAnyPause(dir: string, ws: WorkerProcess[], timeoutMs = 60_000): Promise<{ w: WorkerProcess; m: Marker }> {
  return waitUntil(
    () => {
      for (const w of ws) {
        const m = markers(dir, w.child.pid).find((x) => x.kind === 'paused');
        if (m) return { w, m };
      }
      return null;
    },
    { timeout: timeoutMs, interval: 20, label: () => `one of ${ws.map((w) => w.child.pid).join(', ')} to pause` },
  );
}

/** A frozen worker is still there (signal 0 reaches a stopped process). */
export function alive(w: WorkerProcess): boolean {
  return w.child.exitCode === null && w.child.signalCode === null;
}

export function resume(w: WorkerProcess): void {
  if (alive(w)) process.kill(w.child.pid!, 'SIGCONT');
}

/**
 * Stops the scenario's workers the way an operator would (SIGTERM, in-flight chunks finish), so a
 * resumed zombie's late work is done before the invariants are read. A frozen one is resumed first.
 */
export async function settle(ws: WorkerProcess[]): Promise<void> {
  for (const w of ws) resume(w);
  await Promise.all(ws.map((w) => w.kill('SIGTERM')));
  await Promise.all(ws.filter(alive).map((w) => w.kill('SIGKILL')));
}

/** Helper for the seeded schedule: a stable, printed seed (SEED=… replays a run). */
export function runSeed(): number {
  const fromEnv = process.env.SEED;
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 1_000_000);
}

/**
 * A TCP relay in front of the SMTP peer that can be frozen: while frozen it accepts connections
 * and reads nothing, forwards nothing (as a SIGSTOPped server whose kernel still completes the
 * handshake). Thawing delivers what was held, in order.
 */
export interface FreezableRelay {
  url: string;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezableRelay(targetUrl: string): Promise<FreezableRelay> {
  const target = new URL(targetUrl);
  let frozen = false;
  const held: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    const pass = (to: net.Socket) => (buf: Buffer) => {
      if (frozen) held.push(() => to.writable && to.write(buf));
      else to.write(buf);
    };
    client.on('data', pass(upstream));
    upstream.on('data', pass(client));
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const f of held.splice(0)) f();
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** How the harness spawns a worker for a scenario: the fault system's env plus the pause rules. */
export function spawnPausable(sys: FaultSystem, dir: string, spec: string, extraEnv: Record<string, string> = {}): WorkerProcess {
  return sys.spawnWorker({ ...pauseEnv(dir, spec), ...extraEnv });
}
