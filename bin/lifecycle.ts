import net from 'node:net';
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from '../shared/platform/config';

/**
 * A start-up failure the person can fix by doing what its message says (a port in use): told in
 * one line, with no stack, and the process exits 1 having started nothing it leaves behind.
 */
export class StartupProblem extends Error {}

export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/** How a process reports its own shutdown: JSON lines (production) or plain words (`npm start`). */
interface ShutdownReport {
  stopping(signal: string): void;
  failed(err: unknown): void;
}

const jsonReport: ShutdownReport = {
  stopping: (signal) => logLine(30, `${signal}: shutting down`),
  failed: (err) => logLine(50, 'shutdown failed', err),
};

/** SIGTERM/SIGINT: stop taking work, finish what is in hand, close, exit 0; a second signal or the bound forces it. */
export function onShutdown(stopAll: () => Promise<void>, boundMs: number, report: ShutdownReport = jsonReport) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    report.stopping(signal);
    setTimeout(() => process.exit(1), boundMs + 5000).unref();
    stopAll().then(
      () => process.exit(0),
      (err) => {
        report.failed(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/**
 * Listens on `port` (every interface, as `server.listen(port)` does). A port another process holds
 * or one this user may not bind rejects with a StartupProblem that says what to do instead.
 * `holder` names who holds the port when the caller knows (its own earlier start).
 */
export function listen(server: Server, port: number, holder?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      portProblem(err, port, holder).then(reject, reject);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port);
  });
}

async function portProblem(err: NodeJS.ErrnoException, port: number, holder?: string): Promise<Error> {
  if (err.code === 'EADDRINUSE')
    return new StartupProblem(
      `Port ${port} is in use (${holder ?? 'another domain-push?'}). Stop it or set PORT=${await freePortAfter(port)}.`,
    );
  if (err.code === 'EACCES')
    return new StartupProblem(`Port ${port} needs privileges this user does not have. Set PORT=3000 (or another port above 1023).`);
  return err;
}

/** The first port after `port` that can be bound now (a suggestion: another program may take it first). */
async function freePortAfter(port: number): Promise<number> {
  for (let p = port + 1; p <= Math.min(port + 50, 65535); p++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(p, () => probe.close(() => resolve(true)));
    });
    if (free) return p;
  }
  return port + 1;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 2000).unref();
  });
}

/**
 * One JSON line on stderr, shaped like the pino lines the process logs otherwise (level 30 info,
 * 50 error, 60 fatal), so a log collector never meets a bare multi-line stack: the stack is a field.
 */
function logLine(level: number, msg: string, err?: unknown) {
  const detail = err === undefined ? {} : err instanceof Error ? { err: err.message, stack: err.stack } : { err: String(err) };
  process.stderr.write(`${JSON.stringify({ level, time: Date.now(), service: 'domain-push', pid: process.pid, msg, ...detail })}\n`);
}

/**
 * Runs a process entry point: a start-up failure is logged (JSON, with its stack) and exits 1. A
 * promise rejected with nobody listening is a bug: it is logged the same way, and the process
 * exits 1 as Node would, so a supervisor restarts it (its chunks are taken over as stalled).
 */
export function runMain(main: () => Promise<void>) {
  process.on('unhandledRejection', (reason) => {
    logLine(60, 'unhandled promise rejection', reason);
    process.exit(1);
  });
  main().catch((err) => {
    // A problem the person can fix is its message alone; anything else carries its stack.
    if (err instanceof StartupProblem) logLine(60, err.message);
    else logLine(60, 'start-up failed', err);
    process.exit(1);
  });
}
