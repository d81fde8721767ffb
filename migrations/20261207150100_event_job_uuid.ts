import type { Knex } from 'knex';

/** Bulk job ids are uuids: the ordering key of events and deliveries holds one (it was bigint). */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table events alter column job_id type uuid using null');
  await knex.raw('alter table webhook_deliveries alter column job_id type uuid using null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table events alter column job_id type bigint using null');
  await knex.raw('alter table webhook_deliveries alter column job_id type bigint using null');
}
