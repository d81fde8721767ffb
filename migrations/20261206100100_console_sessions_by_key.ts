import type { Knex } from 'knex';

/**
 * A key holds at most SESSIONS_PER_KEY console sessions (signing in past it ends the oldest), and
 * revoking a key deletes its sessions: both find a key's sessions by api_key_id, newest first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index console_sessions_by_key on console_sessions (api_key_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists console_sessions_by_key');
}
