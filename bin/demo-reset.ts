import path from 'node:path';
import { createDb, migrate } from '../shared/platform/db';
import { startEmbeddedPostgres } from '../shared/platform/embedded-postgres';
import { allInOneLogger } from '../shared/platform/logger';
import { demoKeyLines, pushAllLines, readRunning, shown } from './banner';
import { DEMO_DOMAINS, DemoBusy, readDemoKeys, resetDemo, saveDemoKeys } from './demo-data';
import { configOrExit, runMain } from './lifecycle';

/**
 * `npm run demo:reset`: the demo data as `npm run demo` first made it, without removing DATA_DIR
 * (the operator key, the database and the job history stay). Every demo domain goes back to
 * losing-demo; the keys in DATA_DIR/demo-keys.json stay valid (a missing one is replaced) and
 * are printed again. Runs beside a running `npm start` (it shares its embedded Postgres) or alone.
 */
async function main() {
  const config = configOrExit();
  const logs = allInOneLogger(config.LOG_LEVEL, config.DATA_DIR, { role: 'demo-reset' });
  const embedded = config.DATABASE_URL ? undefined : await startEmbeddedPostgres(config.DATA_DIR, logs.log);
  const db = createDb({ DATABASE_URL: config.DATABASE_URL ?? embedded!.url }, logs.log);
  try {
    await migrate(db);
    console.log(`Refilling the demo data (${DEMO_DOMAINS.toLocaleString('en-US')} domains)…`);
    const keys = await resetDemo(db, readDemoKeys(config.DATA_DIR));
    const file = saveDemoKeys(config.DATA_DIR, keys);
    const base = readRunning(config.DATA_DIR)?.url ?? `http://localhost:${config.PORT}`;
    console.log(
      [
        keys.created
          ? 'Demo data created: resellers losing-demo and gaining-demo, push enabled and authorized both ways.'
          : `Demo data refilled: all ${DEMO_DOMAINS.toLocaleString('en-US')} demo domains are back with losing-demo (a third locked, some branded); past jobs are kept.`,
        ...demoKeyLines(keys, file),
        ...pushAllLines(base, keys.losingKey),
        readRunning(config.DATA_DIR)
          ? ''
          : `(domain-push is not running from ${shown(path.resolve(config.DATA_DIR))}: npm run demo starts it)`,
      ].join('\n'),
    );
  } catch (err) {
    if (!(err instanceof DemoBusy)) throw err;
    console.error(err.message);
    process.exitCode = 1;
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

runMain(main);
