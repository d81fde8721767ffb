import { createDb, migrate } from '../shared/db';
import { configOrExit } from './lifecycle';

async function main() {
  const config = configOrExit();
  const db = createDb(config);
  await migrate(db);
  const [, pending] = await db.migrate.list();
  console.log(`migrations up to date (${pending.length} pending)`);
  await db.destroy();
}

main().catch((err) => {
  console.error(err.message ?? err);
  process.exit(1);
});
