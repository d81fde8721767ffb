import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app';
import { createRuntime } from '../shared/platform/runtime';
import { startWorker } from '../worker/runtime';
import { ensureConsoleBuilt } from './build-console';
import { DEMO_DOMAINS, seedDemo } from './demo-data';
import { closeServer, configOrExit, onShutdown, runMain } from './lifecycle';

/** Everything in one process for a newcomer: migrations, API, worker, dashboard, email capture. */
async function main() {
  const config = configOrExit();
  await buildConsoleIfStale();
  const rt = await createRuntime(config, { role: 'all', migrate: true });
  const { deps } = rt;
  const worker = await startWorker(deps, rt.workerRedis());
  const server = createApp(deps).listen(config.PORT);
  await new Promise((r) => server.once('listening', r));
  const base = `http://localhost:${(server.address() as AddressInfo).port}`;
  const key = deps.config.ADMIN_API_KEY!;
  const lines = [
    '',
    'domain-push is running',
    `  API:            ${base}/v1   (health ${base}/healthz, metrics ${base}/metrics)`,
    `  Console:        ${base}/console   (sign in with a reseller API key)`,
    `  API docs:       ${base}/docs   (OpenAPI 3.1 at ${base}/v1/openapi.json)`,
    `  Dashboard:      ${base}/admin/queues   (basic auth: any user, the operator key as password)`,
    `  Mailbox:        ${base}/admin/emails   (${config.SMTP_URL ? `the outbox; sending through ${new URL(config.SMTP_URL).host}` : 'email capture'}; basic auth like the dashboard)`,
    `  Database:       ${rt.embedded ? `embedded Postgres in ${rt.embedded.dir} (127.0.0.1:${rt.embedded.port})` : 'Postgres (DATABASE_URL)'}`,
    `  Redis:          ${rt.redisHandle.url}`,
    `  Queue prefix:   ${deps.config.QUEUE_PREFIX}   (${config.QUEUE_PREFIX ? 'QUEUE_PREFIX' : "derived from this deployment's id"})`,
    `  Operator key:   ${key}`,
  ];
  if (process.argv.includes('--demo')) {
    const demo = await seedDemo(deps);
    if (demo.alreadySeeded)
      lines.push('', 'Demo data is already there (resellers losing-demo and gaining-demo); their keys were shown when it was created.');
    else {
      lines.push(
        '',
        `Demo: resellers losing-demo and gaining-demo, push enabled and authorized, ${DEMO_DOMAINS.toLocaleString('en-US')} domains (a third locked, some branded).`,
        `  losing-demo key:  ${demo.losingKey}`,
        `  gaining-demo key: ${demo.gainingKey}`,
        '  Push them all:',
        `  curl -s -X POST ${base}/v1/bulk-pushes -H 'Authorization: Bearer ${demo.losingKey}' -H 'Content-Type: application/json' \\`,
        `    -d '{"gaining_reseller":"gaining-demo","all_domains":true,"profile":{"mode":"new"},"apply_to_locked":true,"email_results_to":"ops@losing.example"}'`,
      );
    }
  }
  console.log(lines.join('\n') + '\n');
  onShutdown(async () => {
    await closeServer(server);
    await worker.stop();
    await rt.close();
  }, config.SHUTDOWN_TIMEOUT_MS);
}

/** A fresh clone, a pull or an edit of console/ rebuilds it here; a failure leaves the API running. */
async function buildConsoleIfStale() {
  try {
    if (await ensureConsoleBuilt({ quiet: true })) console.log('Reseller console built (console/dist).');
  } catch (err) {
    console.error(`The reseller console could not be built (${(err as Error).message}); /console will say so. The API runs anyway.`);
  }
}

runMain(main);
