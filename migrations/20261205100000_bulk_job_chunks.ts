import type { Knex } from 'knex';

/**
 * A chunk's items before anything has happened to them: their names (and, for a release, their
 * products) and the item ids reserved for them, in one row per chunk. A submit writes about 50 of
 * these instead of 50,000 item rows (the item insert was 70-85% of a 50,000-name submit); the
 * chunk's first take, or a cancel, or the chunk failing, turns the row into item rows with those
 * ids and deletes it (shared/bulk/unstarted.ts). While its chunk row holds it, an item is pending,
 * and every reader (counts, the items list and CSV, finalize, resume, the reconciler) sees it so.
 * Jobs submitted before this migration have no chunk rows: all their items are rows already.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table bulk_job_chunks (
      job_id uuid not null references bulk_jobs(id) on delete cascade,
      chunk integer not null,
      item_ids bigint[] not null,
      names text[] not null,
      -- Null when every item is a domain (a push); a release's products otherwise.
      products text[],
      product_ids bigint[],
      primary key (job_id, chunk)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table bulk_job_chunks');
}
