import type { Knex } from 'knex';

/**
 * The item whose job took a locked domain on the registry path (unlock, push, relock). Written in
 * the transaction that decides the unlock, under the domain's row lock, so every other job sees
 * the domain as held while that item is open or owes the relock (and treats it as locked). No
 * foreign key: a stale marker (its item finished and relocked) means nothing and is overwritten
 * by the next holder, and the push's hot path never pays for a reference check.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('domains', (t) => t.bigInteger('held_by_item'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('domains', (t) => t.dropColumn('held_by_item'));
}
