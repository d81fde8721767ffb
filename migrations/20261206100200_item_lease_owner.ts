import type { Knex } from 'knex';

/**
 * Fencing of registry-path work (issue 18): an item in hand names the attempt that holds it
 * (`lease_owner`, a random token per take), and every later write and registry call of that attempt
 * is conditional on it, so a paused attempt that resumes after its lease was taken over is refused.
 * Written in the same UPDATE/INSERT as the lease; no index (items are found by id or chunk).
 *
 * `registry_lock_events` is the ledger of the push's registry lock changes: an `intent` row before
 * each unlock call and a `done` row after it returned; a lock's `done` row carries in `since` the
 * ledger position (sequence value) taken right before its call. `registry_unlocked` is the ledger's
 * small index of the domains whose latest unlock has no later lock: a row per such domain
 * (`unlock_id`, the latest unlock event), deleted by a lock whose `since` came after it. The sweep
 * relocks from it, finalize waits on it, the `domain_push_unlocked_domains` gauge counts it. Only
 * registry-path items write either table, one set-based statement per chunk step.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table bulk_job_items add column lease_owner uuid');
  await knex.raw(`
    create table registry_lock_events (
      id bigserial primary key,
      domain_name text not null,
      item_id bigint,
      job_id uuid,
      owner uuid,
      action text not null check (action in ('unlock', 'lock')),
      phase text not null check (phase in ('intent', 'done')),
      since bigint,
      at timestamptz not null default clock_timestamp()
    )`);
  await knex.raw(`
    create table registry_unlocked (
      domain_name text primary key,
      unlock_id bigint not null,
      item_id bigint,
      job_id uuid,
      owner uuid,
      unlocked_at timestamptz not null default clock_timestamp()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table registry_unlocked');
  await knex.raw('drop table registry_lock_events');
  await knex.raw('alter table bulk_job_items drop column lease_owner');
}
