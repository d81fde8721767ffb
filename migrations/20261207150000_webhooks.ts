import type { Knex } from 'knex';

/**
 * Signed webhooks (docs/webhooks.md). `events` is the event outbox: one row per event per
 * reseller, written in the transaction of the change that causes it; the same transaction fans
 * it out to one `webhook_deliveries` row per enabled endpoint of that reseller that takes its
 * type. `seq` orders events (a job's events are delivered to an endpoint in `seq` order).
 * An endpoint's secret is stored encrypted (AES-256-GCM, WEBHOOK_SECRET_KEY): it must be
 * readable to sign, so it cannot be hashed like an API key.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('reseller_id').notNullable().references('id').inTable('resellers');
    t.text('url').notNullable();
    t.text('description');
    t.text('secret_box').notNullable();
    t.text('secret_prefix').notNullable();
    t.specificType('event_types', 'text[]').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.text('disabled_reason');
    t.timestamp('disabled_at', { useTz: true });
    // First failure of the current run of failures; cleared by a success.
    t.timestamp('failing_since', { useTz: true });
    // Per-endpoint concurrency 1: a relay leases the endpoint (fenced by its token) for one send.
    t.text('lease_owner');
    t.timestamp('lease_until', { useTz: true });
    // Per-endpoint rate bound: no send before this.
    t.timestamp('next_send_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.raw('now()'));
  });
  await knex.raw('create index webhook_endpoints_reseller on webhook_endpoints (reseller_id, id)');

  await knex.schema.createTable('events', (t) => {
    t.text('id').primary();
    t.bigIncrements('seq', { primaryKey: false });
    t.bigInteger('reseller_id').notNullable().references('id').inTable('resellers');
    t.text('type').notNullable();
    // Ordering key: a job's events reach an endpoint in order; null: no order with others.
    t.bigInteger('job_id');
    t.jsonb('data').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
  });
  await knex.raw('create index events_reseller on events (reseller_id, seq)');

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('endpoint_id').notNullable().references('id').inTable('webhook_endpoints').onDelete('CASCADE');
    t.text('event_id').notNullable().references('id').inTable('events');
    t.bigInteger('event_seq').notNullable();
    t.bigInteger('job_id');
    // pending (due at next_attempt_at) | delivered | failed (given up)
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
    t.integer('response_status');
    t.integer('duration_ms');
    t.text('last_error');
    t.timestamp('last_attempt_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
    t.unique(['endpoint_id', 'event_id']);
  });
  await knex.raw(`create index webhook_deliveries_due on webhook_deliveries (endpoint_id, event_seq) where status = 'pending'`);
  await knex.raw('create index webhook_deliveries_log on webhook_deliveries (endpoint_id, id desc)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.dropTable('events');
  await knex.schema.dropTable('webhook_endpoints');
}
