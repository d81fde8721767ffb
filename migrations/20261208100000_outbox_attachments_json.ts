import type { Knex } from 'knex';

/**
 * An email's attachments are stored as `json` (the text as written), not `jsonb`: the results CSV
 * and the gaining notice are written in the transaction that ends a job, so their cost is the push's,
 * and nothing queries inside them. For a 50,000-domain job (a 3.6 MB attachment) the insert took
 * 96-155 ms as jsonb (parsed into its binary form), 60-89 ms as json and 29-69 ms as json with lz4
 * compression. lz4 is used where this Postgres has it (Debian's does; the embedded one from npm is
 * built without it and keeps pglz).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table outbound_emails alter column attachments type json using attachments::json');
  await knex.raw(`do $$
    begin
      alter table outbound_emails alter column attachments set compression lz4;
    exception when feature_not_supported then
      null;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table outbound_emails alter column attachments set compression default');
  await knex.raw('alter table outbound_emails alter column attachments type jsonb using attachments::jsonb');
}
