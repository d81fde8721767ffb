import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../shared/platform/embedded-postgres';
import { createLogger } from '../../shared/platform/logger';

/**
 * `node --import tsx test/helpers/embedded-postgres-run.ts DATA_DIR`: starts the embedded Postgres
 * of DATA_DIR in a process of its own (so a test can run it as another user, or with fewer
 * capabilities), runs a query, prints who the server ran as (one JSON line), stops it. A start-up
 * failure prints its message on stderr and exits 1.
 */
async function main() {
  const server = await startEmbeddedPostgres(process.argv[2], createLogger('silent'));
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  const { rows } = await client.query('select current_user as user, 1 + 1 as two');
  await client.end();
  const pid = Number(fs.readFileSync(path.join(server.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(status)?.[1];
  console.log(JSON.stringify({ ...rows[0], pid, uid: Number(field('Uid')), capEff: field('CapEff') }));
  await server.stop();
}

main().catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
