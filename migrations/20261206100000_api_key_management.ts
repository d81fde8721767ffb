import type { Knex } from 'knex';

/**
 * Keys a reseller controls: a reseller creates more keys, lists them and revokes one; the operator
 * revokes any. A key gets an optional `label` (what it is for: "CI", "laptop"), `last_used_at`
 * (written by authentication at most once a minute per key), `created_via` (who made it: `signup`
 * with the reseller, `reseller`, `operator`; null for keys older than this migration) and
 * `revoked_via` (`reseller` or `operator`). The index serves the per-reseller list and the
 * live-key count that refuses revoking a reseller's last key.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_keys', (t) => {
    t.text('label');
    t.timestamp('last_used_at', { useTz: true });
    t.text('created_via');
    t.text('revoked_via');
  });
  await knex.raw(`alter table api_keys add constraint api_keys_created_via check (created_via in ('signup', 'reseller', 'operator'))`);
  await knex.raw(`alter table api_keys add constraint api_keys_revoked_via check (revoked_via in ('reseller', 'operator'))`);
  await knex.raw('create index api_keys_reseller on api_keys (reseller_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists api_keys_reseller');
  await knex.schema.alterTable('api_keys', (t) => {
    t.dropColumn('label');
    t.dropColumn('last_used_at');
    t.dropColumn('created_via');
    t.dropColumn('revoked_via');
  });
}
