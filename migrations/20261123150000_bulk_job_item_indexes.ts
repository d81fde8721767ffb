import type { Knex } from 'knex';

/**
 * Item rows are written once per push at 20k+/s, so their indexes stay out of the way: `status`
 * leaves the full indexes, and the two questions asked per chunk (is anything open? is anything
 * left unlocked?) get partial indexes that hold only the few rows that answer them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_job_items', (t) => {
    t.dropIndex(['job_id', 'chunk', 'status']);
    t.dropIndex(['job_id', 'status']);
    t.index(['job_id', 'chunk'], 'bulk_job_items_job_chunk');
  });
  await knex.raw(`create index bulk_job_items_open on bulk_job_items (job_id, chunk) where status in ('pending', 'running')`);
  await knex.raw(`create index bulk_job_items_unrelocked on bulk_job_items (job_id) where was_locked = true and relocked = false`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index bulk_job_items_unrelocked`);
  await knex.raw(`drop index bulk_job_items_open`);
  await knex.schema.alterTable('bulk_job_items', (t) => {
    t.dropIndex(['job_id', 'chunk'], 'bulk_job_items_job_chunk');
    t.index(['job_id', 'status']);
    t.index(['job_id', 'chunk', 'status']);
  });
}
