import { createDb, migrate } from '../shared/platform/db';
import { deploymentId, prefixFor } from '../shared/platform/deployment';
import { startEmbeddedPostgres } from '../shared/platform/embedded-postgres';
import { createLogger } from '../shared/platform/logger';
import { configOrExit, runMain } from './lifecycle';

async function main() {
  const config = configOrExit();
  // No DATABASE_URL: the embedded Postgres of DATA_DIR (started, or shared with a running `npm start`).
  const embedded = config.DATABASE_URL ? undefined : await startEmbeddedPostgres(config.DATA_DIR, createLogger(config.LOG_LEVEL));
  const db = createDb({ DATABASE_URL: config.DATABASE_URL ?? embedded!.url });
  try {
    await migrate(db);
    const [, pending] = await db.migrate.list();
    const prefix = config.QUEUE_PREFIX ?? prefixFor(await deploymentId(db));
    console.log(`migrations up to date (${pending.length} pending); queue prefix ${prefix}`);
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

runMain(main);
