import type { Knex } from 'knex';

/** A push removes pushed domains from the losing reseller's packages by domain id. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('package_domains', (t) => t.index(['domain_id']));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('package_domains', (t) => t.dropIndex(['domain_id']));
}
