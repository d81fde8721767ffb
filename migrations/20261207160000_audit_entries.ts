import type { Knex } from 'knex';

/**
 * The audit trail (docs/audit.md): one row per state change by a person or a key, appended by the
 * API after the change succeeded. Append-only in the database itself: a trigger refuses every
 * UPDATE, TRUNCATE and DELETE, except the retention purge, `audit_purge(keep_days)`, which may
 * delete only rows older than its cutoff (the trigger checks each row against the cutoff the
 * function set for its own transaction).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_entries', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
    // The account the entry belongs to (the reseller reads these); null: operator-only (a bulk import, a claim).
    t.bigInteger('reseller_id').references('id').inTable('resellers');
    // api_key | session | operator | claim_link; `actor_id` is a key's public prefix or a session's hash prefix, never a secret.
    t.text('actor_kind').notNullable();
    t.text('actor_id');
    t.text('address');
    t.text('action').notNullable();
    t.text('target_type').notNullable();
    t.text('target_id');
    t.jsonb('summary').notNullable().defaultTo('{}');
    // What was asked and answered: `POST /v1/customers/:id` (the route pattern) and the status.
    t.text('route');
    t.integer('status');
  });
  await knex.raw('create index audit_entries_reseller on audit_entries (reseller_id, id desc)');
  await knex.raw('create index audit_entries_at on audit_entries (at)');
  await knex.raw(`
    create function audit_entries_append_only() returns trigger language plpgsql as $$
    declare cutoff text := current_setting('domain_push.audit_purge_before', true);
    begin
      -- Only the purge's own cutoff opens a DELETE, and only for rows a day old or more, whatever it says.
      if tg_op = 'DELETE' and cutoff is not null and cutoff <> '' and cutoff::timestamptz <= now() - interval '1 day'
         and old.at < cutoff::timestamptz then
        return old;
      end if;
      raise exception 'audit_entries is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end $$`);
  await knex.raw(`
    create trigger audit_entries_no_update_delete before update or delete on audit_entries
    for each row execute function audit_entries_append_only()`);
  await knex.raw(`
    create trigger audit_entries_no_truncate before truncate on audit_entries
    for each statement execute function audit_entries_append_only()`);
  // The one way rows leave: older than keep_days (at least 1), in the caller's transaction only.
  await knex.raw(`
    create function audit_purge(keep_days integer) returns bigint language plpgsql security definer
    set search_path = pg_catalog, public as $$
    declare cutoff timestamptz; n bigint;
    begin
      if keep_days is null or keep_days < 1 then
        raise exception 'audit_purge: keep_days must be at least 1 (got %)', keep_days;
      end if;
      cutoff := now() - make_interval(days => keep_days);
      perform set_config('domain_push.audit_purge_before', cutoff::text, true);
      delete from audit_entries where at < cutoff;
      get diagnostics n = row_count;
      perform set_config('domain_push.audit_purge_before', '', true);
      return n;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists audit_purge(integer)');
  await knex.raw('drop table if exists audit_entries');
  await knex.raw('drop function if exists audit_entries_append_only()');
}
