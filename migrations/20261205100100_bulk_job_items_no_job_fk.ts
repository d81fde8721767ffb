import type { Knex } from 'knex';

/**
 * Items are written only by the bulk engine, in transactions that hold their job's row (a take
 * holds it FOR SHARE; a cancel FOR UPDATE; a failed chunk FOR SHARE), and jobs are never deleted.
 * The foreign key re-checked that row once per item: 1,000 key-share look-ups of the same job row
 * per chunk, from every chunk in flight (MultiXact churn on the row the takes already share), and
 * a fifth of the cost of inserting the items. Same decision as the billing ledger (README). The
 * per-chunk counters and unstarted chunks keep their cascading keys (one row per chunk).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table bulk_job_items drop constraint if exists bulk_job_items_job_id_foreign');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'alter table bulk_job_items add constraint bulk_job_items_job_id_foreign foreign key (job_id) references bulk_jobs(id) on delete cascade',
  );
}
