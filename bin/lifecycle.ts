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
    console.error(`${signal}: shutting down`);
    setTimeout(() => process.exit(1), boundMs + 5000).unref();
    stopAll().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
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

/** An error with its stack (where it came from), or whatever was thrown. */
function describe(err: unknown): unknown {
  return err instanceof Error ? (err.stack ?? err.message) : err;
}

/**
 * Runs a process entry point: a start-up failure prints its stack and exits 1. A promise rejected
 * with nobody listening is a bug: it is logged with its stack, and the process exits 1 as Node
 * would, so a supervisor restarts it (its chunks are taken over as stalled).
 */
export function runMain(main: () => Promise<void>) {
  process.on('unhandledRejection', (reason) => {
    console.error('unhandled promise rejection:', describe(reason));
    process.exit(1);
  });
  main().catch((err) => {
    console.error(describe(err));
    process.exit(1);
  });
}
