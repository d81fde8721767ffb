import type { Knex } from 'knex';

/**
 * A job's `rate` is items finished per second of running time. Suspended time is not running
 * time, and `suspended_at` is cleared on resume, so the time spent suspended is summed here.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_jobs', (t) => t.double('suspended_seconds').notNullable().defaultTo(0));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_jobs', (t) => t.dropColumn('suspended_seconds'));
}
