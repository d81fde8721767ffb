import type { Knex } from 'knex';

/**
 * Each outbox row is leased by one send attempt at a time: `lease_owner` is that attempt's token,
 * so the send and mark-sent are conditional on still holding the lease (a relay whose lease ran
 * out while it was paused does not send). `ambiguous_sends` counts sends that got no reply after
 * the whole message went out (the server may have it): such a message is sent at most once more.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_emails', (t) => {
    t.text('lease_owner');
    t.integer('ambiguous_sends').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbound_emails', (t) => {
    t.dropColumn('lease_owner');
    t.dropColumn('ambiguous_sends');
  });
}
