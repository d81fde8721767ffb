import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('resellers', (t) => {
    t.bigIncrements('id');
    t.text('username').notNullable().unique();
    t.text('company_id').notNullable().unique();
    t.text('name').notNullable();
    t.text('email').notNullable();
    t.boolean('domain_push_enabled').notNullable().defaultTo(false);
    t.text('push_notification_email');
    t.integer('billing_anchor_day').notNullable().defaultTo(1);
    t.jsonb('default_settings').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table resellers add constraint resellers_username_lower check (username = lower(username))`);
  await knex.raw(`alter table resellers add constraint resellers_anchor_day check (billing_anchor_day between 1 and 31)`);

  await knex.schema.createTable('api_keys', (t) => {
    t.bigIncrements('id');
    t.bigInteger('reseller_id').references('resellers.id').onDelete('CASCADE'); // null = operator key
    t.text('key_hash').notNullable().unique();
    t.text('key_prefix').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
  });

  await knex.schema.createTable('push_authorizations', (t) => {
    t.bigInteger('gaining_reseller_id').notNullable().references('resellers.id').onDelete('CASCADE');
    t.bigInteger('losing_reseller_id').notNullable().references('resellers.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['gaining_reseller_id', 'losing_reseller_id']);
  });

  await knex.schema.createTable('profiles', (t) => {
    t.bigIncrements('id');
    t.bigInteger('reseller_id').notNullable().references('resellers.id');
    t.text('domain').notNullable();
    t.text('username').notNullable();
    t.text('password_hash');
    t.jsonb('contact').notNullable().defaultTo('{}');
    t.bigInteger('created_by_job_seq');
    t.text('source_domain');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['reseller_id', 'username']);
  });

  await knex.schema.createTable('brands', (t) => {
    t.bigIncrements('id');
    t.bigInteger('reseller_id').notNullable().references('resellers.id');
    t.text('name'); // null = unlabelled copy
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.boolean('editable').notNullable().defaultTo(true);
    t.bigInteger('source_brand_id').references('brands.id');
    t.uuid('created_by_job_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['created_by_job_id', 'source_brand_id']);
  });

  await knex.schema.createTable('domains', (t) => {
    t.bigIncrements('id');
    t.text('name').notNullable().unique();
    t.bigInteger('reseller_id').notNullable().references('resellers.id');
    t.bigInteger('profile_id').references('profiles.id');
    t.boolean('locked').notNullable().defaultTo(false);
    t.bigInteger('brand_id').references('brands.id');
    t.jsonb('settings').notNullable().defaultTo('{}');
    t.timestamp('expires_at', { useTz: true });
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['reseller_id', 'name']);
  });

  await knex.schema.createTable('bulk_jobs', (t) => {
    t.uuid('id').primary();
    t.bigIncrements('seq', { primaryKey: false });
    t.text('kind').notNullable();
    t.text('status').notNullable();
    t.bigInteger('losing_reseller_id').notNullable().references('resellers.id');
    t.bigInteger('gaining_reseller_id').references('resellers.id');
    t.jsonb('options').notNullable().defaultTo('{}');
    t.integer('total').notNullable();
    t.integer('chunk_count').notNullable();
    t.integer('generation').notNullable().defaultTo(0);
    t.text('idempotency_key');
    t.text('request_hash');
    t.text('error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true });
    t.timestamp('suspended_at', { useTz: true });
    t.timestamp('cancel_requested_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.unique(['losing_reseller_id', 'idempotency_key']);
    t.index(['status']);
    t.index(['losing_reseller_id', 'seq']);
    t.index(['gaining_reseller_id', 'seq']);
  });

  await knex.schema.createTable('bulk_job_items', (t) => {
    t.bigIncrements('id');
    t.uuid('job_id').notNullable().references('bulk_jobs.id').onDelete('CASCADE');
    t.integer('chunk').notNullable();
    t.text('domain_name').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.text('reason');
    t.text('message');
    t.boolean('was_locked');
    t.boolean('relocked');
    t.timestamp('started_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.index(['job_id', 'id']);
    t.index(['job_id', 'chunk', 'status']);
    t.index(['job_id', 'status']);
  });

  await knex.schema.createTable('billing_events', (t) => {
    t.bigIncrements('id');
    t.bigInteger('reseller_id').notNullable().references('resellers.id');
    t.bigInteger('domain_id').notNullable().references('domains.id');
    t.uuid('job_id').references('bulk_jobs.id').onDelete('SET NULL');
    t.text('kind').notNullable();
    t.timestamp('effective_from', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['job_id', 'domain_id', 'kind']);
    t.index(['reseller_id', 'effective_from']);
  });

  await knex.schema.createTable('outbound_emails', (t) => {
    t.bigIncrements('id');
    t.text('dedupe_key').notNullable().unique();
    t.text('to').notNullable();
    t.text('subject').notNullable();
    t.text('text').notNullable();
    t.text('html');
    t.jsonb('attachments').notNullable().defaultTo('[]');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('lease_until', { useTz: true });
    t.timestamp('sent_at', { useTz: true });
    t.text('transport');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`create index outbound_emails_unsent on outbound_emails (next_attempt_at) where sent_at is null`);
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'outbound_emails',
    'billing_events',
    'bulk_job_items',
    'bulk_jobs',
    'domains',
    'brands',
    'profiles',
    'push_authorizations',
    'api_keys',
    'resellers',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
