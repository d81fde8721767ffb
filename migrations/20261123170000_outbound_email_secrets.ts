import type { Knex } from 'knex';

/**
 * Some emails carry a secret the platform keeps only hashed (a claim link's token). Such a row is
 * marked, its body is blanked once it has been sent, and the operator's email view masks it before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_emails', (t) => t.boolean('contains_secret').notNullable().defaultTo(false));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_emails', (t) => t.dropColumn('contains_secret'));
}
