import { createApp } from '../api/app';
import { createRuntime } from '../shared/platform/runtime';
import { closeServer, configOrExit, onShutdown, runMain } from './lifecycle';

/** The API process alone (production): validates, writes, enqueues; never pushes. */
async function main() {
  const config = configOrExit();
  const rt = await createRuntime(config, { role: 'api' });
  const server = createApp(rt.deps).listen(config.PORT, () =>
    rt.deps.log.info({ port: config.PORT, prefix: rt.deps.config.QUEUE_PREFIX }, 'api listening'),
  );
  onShutdown(async () => {
    await closeServer(server);
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
}

runMain(main);
