import http from 'node:http';
import { createApp } from '../api/app';
import { createRuntime } from '../app/runtime';
import { closeServer, configOrExit, listen, onShutdown, runMain } from './lifecycle';

/** The API process alone (production): validates, writes, enqueues; never pushes. */
async function main() {
  const config = configOrExit();
  const rt = await createRuntime(config, { role: 'api' });
  const server = http.createServer(createApp(rt.deps));
  try {
    await listen(server, config.PORT);
  } catch (err) {
    // Nothing of this process may outlive it: a private redis-server, the embedded Postgres.
    await rt.close();
    throw err;
  }
  rt.deps.log.info({ port: config.PORT, prefix: rt.deps.config.QUEUE_PREFIX }, 'api listening');
  onShutdown(async () => {
    await closeServer(server);
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
}

runMain(main);
