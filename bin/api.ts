import http from 'node:http';
import { closeApp, createApp } from '../api/app';
import { createRuntime } from '../app/runtime';
import { closeServer, configOrExit, listen, onShutdown, runMain } from './lifecycle';

/** The API process alone (production): validates, writes, enqueues; never pushes. */
async function main() {
  const config = configOrExit();
  const rt = await createRuntime(config, { role: 'api' });
  const app = createApp(rt.deps);
  const server = http.createServer(app);
  try {
    await listen(server, config.PORT);
  } catch (err) {
    // Nothing of this process may outlive it: a private redis-server, the embedded Postgres.
    await rt.close();
    throw err;
  }
  rt.deps.log.info({ port: config.PORT, prefix: rt.deps.config.QUEUE_PREFIX }, 'api listening');
  onShutdown(async () => {
    closeApp(app);
    await closeServer(server);
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
}

runMain(main);
