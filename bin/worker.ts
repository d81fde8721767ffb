import { createRuntime } from '../app/runtime';
import type { Server } from 'node:http';
import { startMetricsServer } from '../worker/metrics-server';
import { startWorker } from '../worker/runtime';
import { configOrExit, onShutdown, runMain } from './lifecycle';

/** A worker process (production): any number of them may share Redis and Postgres. */
async function main() {
  const config = configOrExit();
  const rt = await createRuntime(config, { role: 'worker' });
  // Registered before the worker takes its first chunk, so even an early SIGTERM is graceful.
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let metrics: Server | undefined;
  onShutdown(async () => {
    metrics?.close();
    await worker?.stop();
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
  if (config.WORKER_METRICS_PORT !== undefined) metrics = await startMetricsServer(rt.deps, config.WORKER_METRICS_PORT);
  worker = await startWorker(rt.deps, rt.workerRedis());
}

runMain(main);
