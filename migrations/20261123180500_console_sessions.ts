import type { Knex } from 'knex';

/**
 * The reseller console signs in by exchanging an API key for a session cookie. Only the token's
 * hash is stored (like API keys); the session names the key it came from, so revoking the key
 * ends its sessions, and it expires 12 h after sign-in.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_sessions', (t) => {
    t.bigIncrements('id');
    t.text('token_hash').notNullable().unique();
    t.bigInteger('reseller_id').notNullable().references('resellers.id').onDelete('CASCADE');
    t.bigInteger('api_key_id').notNullable().references('api_keys.id').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('console_sessions');
}
