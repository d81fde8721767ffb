import type { Knex } from 'knex';

/**
 * A push waits before anything moves: a grace window (`start_after_seconds`) or a schedule
 * (`start_at`, `next_cycle`). Such a job is `scheduled` until `start_at`; the scheduler starts the
 * due ones, found through a partial index that holds only scheduled jobs, so the poll costs the
 * same however much history the table has. `submitted_by` says which key or session submitted
 * the job (the spec's "submitter"), never the key itself.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_jobs', (t) => {
    t.timestamp('start_at', { useTz: true });
    t.jsonb('submitted_by');
  });
  await knex.raw(`create index bulk_jobs_scheduled_start on bulk_jobs (start_at) where status = 'scheduled'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists bulk_jobs_scheduled_start');
  await knex.schema.alterTable('bulk_jobs', (t) => {
    t.dropColumn('start_at');
    t.dropColumn('submitted_by');
  });
}
