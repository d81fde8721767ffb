import type { Knex } from 'knex';

/** Customers of a reseller, their service packages, claim tokens and claimed accounts; domains get a registrant customer. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customers', (t) => {
    t.bigIncrements('id');
    t.bigInteger('reseller_id').notNullable().references('resellers.id');
    t.text('name').notNullable();
    t.text('email'); // free text as entered; checked (present, valid) only when the customer is released
    t.text('phone');
    t.text('address');
    t.text('country');
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('released_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['reseller_id', 'id']);
  });
  await knex.raw(`alter table customers add constraint customers_status check (status in ('active', 'released'))`);

  await knex.schema.createTable('service_packages', (t) => {
    t.bigIncrements('id');
    t.bigInteger('customer_id').notNullable().references('customers.id');
    t.bigInteger('reseller_id').references('resellers.id'); // null once released with the customer
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('released_at', { useTz: true });
    t.index(['customer_id', 'id']);
  });

  await knex.schema.createTable('package_domains', (t) => {
    t.bigIncrements('id');
    t.bigInteger('package_id').notNullable().references('service_packages.id').onDelete('CASCADE');
    t.text('domain_name').notNullable().unique(); // a name is in at most one package at a time
    t.bigInteger('domain_id').references('domains.id').onDelete('SET NULL'); // null = virtual
    t.boolean('virtual').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['package_id', 'id']);
  });

  await knex.schema.createTable('claim_tokens', (t) => {
    t.bigIncrements('id');
    t.bigInteger('customer_id').notNullable().references('customers.id');
    t.uuid('job_id').references('bulk_jobs.id').onDelete('SET NULL');
    t.text('token_hash').notNullable().unique();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('customer_accounts', (t) => {
    t.bigIncrements('id');
    t.bigInteger('customer_id').notNullable().unique().references('customers.id');
    t.text('email').notNullable();
    t.text('mode').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`alter table customer_accounts add constraint customer_accounts_mode check (mode in ('new_account', 'import'))`);

  await knex.schema.alterTable('domains', (t) => {
    t.bigInteger('customer_id').references('customers.id');
    t.index(['customer_id']);
  });
  // A released customer's domains belong to no reseller; they keep their customer.
  await knex.raw(`alter table domains alter column reseller_id drop not null`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table domains alter column reseller_id set not null`);
  await knex.schema.alterTable('domains', (t) => {
    t.dropColumn('customer_id');
  });
  for (const t of ['customer_accounts', 'claim_tokens', 'package_domains', 'service_packages', 'customers']) {
    await knex.schema.dropTableIfExists(t);
  }
}
