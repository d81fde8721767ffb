import type { Knex } from 'knex';

/**
 * A release job acts for one customer. That customer was kept in `options->>'customer_id'` and
 * found by matching JSON text; it is now a column with a foreign key and an index, so "is a
 * release of this customer running?" and "its last release" are plain indexed lookups. Existing
 * release jobs are backfilled and the key leaves their options (the column is the one place).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_jobs', (t) => t.bigInteger('customer_id').references('customers.id'));
  await knex.raw(
    `update bulk_jobs set customer_id = (options->>'customer_id')::bigint, options = options - 'customer_id'
     where kind = 'release' and options->>'customer_id' is not null`,
  );
  await knex.raw(`create index bulk_jobs_customer on bulk_jobs (customer_id, seq) where customer_id is not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `update bulk_jobs set options = options || jsonb_build_object('customer_id', customer_id::text) where customer_id is not null`,
  );
  await knex.raw(`drop index bulk_jobs_customer`);
  await knex.schema.alterTable('bulk_jobs', (t) => t.dropColumn('customer_id'));
}
