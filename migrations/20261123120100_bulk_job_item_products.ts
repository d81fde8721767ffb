import type { Knex } from 'knex';

/** A release job's items are products: a domain (by name) or a service package (by id). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_job_items', (t) => {
    t.text('product').notNullable().defaultTo('domain');
    t.bigInteger('product_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('bulk_job_items', (t) => {
    t.dropColumn('product_id');
    t.dropColumn('product');
  });
}
