import type { Knex } from 'knex';

/**
 * An item in hand carries a lease that its worker renews. Another attempt at the same chunk (a
 * re-enqueue after Redis lost its data, a stalled retry) takes an item over only once the lease
 * has run out, so a live worker's items are never unlocked or pushed a second time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_job_items', (t) => t.timestamp('lease_until', { useTz: true }));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_job_items', (t) => t.dropColumn('lease_until'));
}
