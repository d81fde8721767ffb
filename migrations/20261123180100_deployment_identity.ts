import type { Knex } from 'knex';

/**
 * The deployment's identity, created once at the first migrate. The BullMQ key prefix is derived
 * from it, so two deployments sharing one Redis never take each other's chunks.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('deployment', (t) => {
    t.boolean('one').primary().defaultTo(true).checkIn(['true'], 'deployment_single_row');
    t.uuid('id').notNullable().defaultTo(knex.raw('gen_random_uuid()'));
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex('deployment').insert({});
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('deployment');
}
