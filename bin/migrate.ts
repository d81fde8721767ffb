import { createDb, migrate } from '../shared/platform/db';
import { configOrExit, runMain } from './lifecycle';

async function main() {
  const config = configOrExit();
  const db = createDb(config);
  await migrate(db);
  const [, pending] = await db.migrate.list();
  console.log(`migrations up to date (${pending.length} pending)`);
  await db.destroy();
}

runMain(main);
