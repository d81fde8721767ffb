import type { Knex } from 'knex';

/**
 * Every question asked by chunk (take, the chunk's held lease, fail a chunk, resume's open chunks)
 * is about open items, which the partial `bulk_job_items_open (job_id, chunk)` index already holds.
 * The full `(job_id, chunk)` index cost two index entries per pushed domain (the pending insert
 * and the result update, which is never HOT because `status` is in a partial index's predicate)
 * and answered nothing the others do not.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists bulk_job_items_job_chunk');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('create index if not exists bulk_job_items_job_chunk on bulk_job_items (job_id, chunk)');
}
