import type { Knex } from 'knex';

/**
 * billing_events is an append-only ledger written two rows per pushed domain, inside the push
 * transaction that has just locked the very domain, reseller and job it names. Its foreign keys
 * cost a key-share lock per row on rows every worker shares (the resellers, the job): about a
 * fifth of a push's database time. The writer guarantees the references; the ledger keeps them
 * as plain columns (and keeps rows if a domain or job is ever removed).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('billing_events', (t) => {
    t.dropForeign(['reseller_id']);
    t.dropForeign(['domain_id']);
    t.dropForeign(['job_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('billing_events', (t) => {
    t.foreign('reseller_id').references('resellers.id');
    t.foreign('domain_id').references('domains.id');
    t.foreign('job_id').references('bulk_jobs.id').onDelete('SET NULL');
  });
}
