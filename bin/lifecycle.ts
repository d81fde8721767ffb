import type { Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from '../shared/platform/config';

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

/** SIGTERM/SIGINT: stop taking work, finish what is in hand, close, exit 0; a second signal or the bound forces it. */
export function onShutdown(stopAll: () => Promise<void>, boundMs: number) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logLine(30, `${signal}: shutting down`);
    setTimeout(() => process.exit(1), boundMs + 5000).unref();
    stopAll().then(
      () => process.exit(0),
      (err) => {
        logLine(50, 'shutdown failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
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
    logLine(60, 'start-up failed', err);
    process.exit(1);
  });
}
