import { createRuntime } from '../shared/runtime';
import { startWorker } from '../worker/runtime';
import { configOrExit, onShutdown, runMain } from './lifecycle';

/** A worker process (production): any number of them may share Redis and Postgres. */
async function main() {
  const config = configOrExit();
  const rt = await createRuntime(config, { role: 'worker' });
  // Registered before the worker takes its first chunk, so even an early SIGTERM is graceful.
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  onShutdown(async () => {
    await worker?.stop();
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
  worker = await startWorker(rt.deps, rt.workerRedis());
}

runMain(main);
