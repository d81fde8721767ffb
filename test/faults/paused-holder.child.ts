import { createDb } from '../../shared/platform/db';
import { lockChunk, passJobGate } from '../../shared/bulk/locks';

/**
 * Holds what a worker paused inside its take holds (the job's gate shared, the job row FOR SHARE,
 * the chunk lock, the domains' rows FOR UPDATE) on a pool with the app's session settings, says
 * "held" on stdout, then idles inside the transaction; the test freezes it with SIGSTOP.
 * argv: database url, job id, domain names (comma-separated); env: the PG_* bounds.
 */
async function main() {
  const [url, jobId, domains] = process.argv.slice(2);
  const bound = (k: string) => (process.env[k] === undefined ? undefined : Number(process.env[k]));
  const db = createDb({
    DATABASE_URL: url,
    PG_LOCK_TIMEOUT_MS: bound('PG_LOCK_TIMEOUT_MS'),
    PG_STATEMENT_TIMEOUT_MS: bound('PG_STATEMENT_TIMEOUT_MS'),
    PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: bound('PG_IDLE_IN_TRANSACTION_TIMEOUT_MS'),
  });
  const trx = await db.transaction();
  await passJobGate(trx, jobId, 'shared');
  await trx('bulk_jobs').where({ id: jobId }).forShare().first('id');
  await lockChunk(trx, jobId, 0);
  await trx('domains').whereIn('name', domains.split(',')).forUpdate().select('id');
  process.stdout.write('held\n');
  setInterval(() => undefined, 60_000);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
