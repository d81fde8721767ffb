import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { closeApp, createApp } from '../api/app';
import { allInOneLogger } from '../shared/platform/logger';
import { createRuntime, type Runtime } from '../app/runtime';
import { startWorker } from '../worker/runtime';
import { demoKeyLines, pushAllLines, readRunning, removeRunning, shown, urlLines, writeRunning } from './banner';
import { ensureConsoleBuilt } from './build-console';
import { DEMO_DOMAINS, DEMO_KEYS_FILE, readDemoKeys, saveDemoKeys, seedDemo } from './demo-data';
import { closeServer, configOrExit, listen, onShutdown, runMain, StartupProblem } from './lifecycle';

/** Until the app is ready, the port answers 503 (a client polling /healthz keeps waiting). */
const starting: http.RequestListener = (_req, res) => {
  res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify({ error: { code: 'starting', message: 'domain-push is starting; try again in a moment.' } }));
};

/**
 * Everything in one process for a newcomer: migrations, API, worker, dashboard, email capture.
 * The terminal is for a person: the banner and warnings; the JSON lines go to DATA_DIR/logs.
 */
async function main() {
  const config = configOrExit();
  const demo = process.argv.includes('--demo');

  // The port before anything else: in use, it is one line and exit 1 with nothing started.
  let serve: http.RequestListener = starting;
  let app: ReturnType<typeof createApp> | undefined;
  const server = http.createServer((req, res) => serve(req, res));
  const earlier = readRunning(config.DATA_DIR);
  const holder =
    earlier && new URL(earlier.url).port === String(config.PORT) ? `domain-push, pid ${earlier.pid}, started from this folder` : undefined;
  try {
    await listen(server, config.PORT, holder);
  } catch (err) {
    if (!(err instanceof StartupProblem)) throw err;
    console.error(err.message);
    process.exit(1);
  }

  const logs = allInOneLogger(config.LOG_LEVEL, config.DATA_DIR, { role: 'all' });
  await buildConsoleIfStale();
  let rt: Runtime | undefined;
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let demoLines: string[] = [];
  const base = `http://localhost:${(server.address() as AddressInfo).port}`;
  try {
    rt = await createRuntime(config, { role: 'all', migrate: true, log: logs.log });
    worker = await startWorker(rt.deps, rt.workerRedis());
    if (demo) demoLines = await demoData(rt, base);
    // From here /healthz answers 200: the demo data is in and the banner follows in the same tick.
    app = createApp(rt.deps);
    serve = app;
  } catch (err) {
    // The stack goes to the log file; the terminal gets the message. Nothing is left running.
    logs.log.fatal({ err }, 'domain-push could not start');
    if (logs.file) console.error(`(details in ${shown(logs.file)})`);
    await worker?.stop().catch(() => undefined);
    await rt?.close().catch(() => undefined);
    server.close();
    process.exit(1);
  }
  const { deps } = rt;
  writeRunning(config.DATA_DIR, { pid: process.pid, url: base, log_file: logs.file ?? null, started_at: new Date().toISOString() });
  const lines = [
    '',
    'domain-push is running',
    ...urlLines(base),
    `  Database:       ${rt.embedded ? `embedded Postgres in ${shown(rt.embedded.dir)} (127.0.0.1:${rt.embedded.port})` : 'Postgres (DATABASE_URL)'}`,
    `  Redis:          ${rt.redisHandle.url}`,
    `  Email:          ${config.SMTP_URL ? `sent through ${new URL(config.SMTP_URL).host}; the outbox in the mailbox` : 'captured: read it in the mailbox'}`,
    `  Queue prefix:   ${deps.config.QUEUE_PREFIX}   (${config.QUEUE_PREFIX ? 'QUEUE_PREFIX' : "derived from this deployment's id"})`,
    `  Operator key:   ${deps.config.ADMIN_API_KEY}`,
    logs.file ? `  Logs:           ${shown(logs.file)}   (the terminal shows ${logs.terminal})` : `  Logs:           ${logs.terminal}`,
    `  Print this again: npm run urls${demo ? '   Refill the demo data: npm run demo:reset' : ''}`,
    ...demoLines,
  ];
  console.log(`${lines.join('\n')}\n`);
  onShutdown(
    async () => {
      if (app) closeApp(app);
      await closeServer(server);
      await worker!.stop();
      await rt!.close();
      removeRunning(config.DATA_DIR);
      console.log('domain-push stopped.');
    },
    config.SHUTDOWN_TIMEOUT_MS,
    {
      stopping: (signal) => console.log(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping (work in hand finishes first)…`),
      failed: (err) => logs.log.error({ err }, 'shutdown failed'),
    },
  );
}

/** `npm run demo`: the demo resellers and domains on first start, their keys every time (kept in DATA_DIR). */
async function demoData(rt: Runtime, base: string): Promise<string[]> {
  const { config } = rt.deps;
  const demo = await seedDemo(rt.deps);
  if (!demo.alreadySeeded) {
    const file = saveDemoKeys(config.DATA_DIR, demo);
    return [
      '',
      `Demo: resellers losing-demo and gaining-demo, push enabled and authorized both ways, ${DEMO_DOMAINS.toLocaleString('en-US')} domains (a third locked, some branded).`,
      ...demoKeyLines(demo, file),
      ...pushAllLines(base, demo.losingKey),
    ];
  }
  const keys = readDemoKeys(config.DATA_DIR);
  if (!keys)
    return [
      '',
      `Demo data is already there (resellers losing-demo and gaining-demo), but ${DEMO_KEYS_FILE} is not in ${shown(config.DATA_DIR)}:`,
      '  npm run demo:reset refills the demo and prints working keys.',
    ];
  return [
    '',
    'Demo data is already there (resellers losing-demo and gaining-demo):',
    ...demoKeyLines(keys, path.resolve(config.DATA_DIR, DEMO_KEYS_FILE)),
  ];
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
