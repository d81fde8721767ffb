import type { Knex } from 'knex';

/** An item that ends at submit, before any worker sees the job (a push's invalid entry under skip_invalid). */
export interface FinishedItem {
  name: string;
  status: string;
  reason: string;
  message: string;
}

/**
 * Writes items already ended at submit as item rows with their final status, in chunk `chunk` (the
 * job's `chunk_count`: one past its last real chunk), inside the submit's transaction. Nothing ever
 * enqueues that chunk: every enqueue goes through `openChunks` (items pending or running, or an
 * unstarted chunk row) or the submit's 0..chunk_count-1, and these items are neither. The per-chunk
 * counter triggers (migration 20261123200100) count them like any insert, so counts, the job's
 * outcome, the items list, the CSV and the results email see them with the rest; ids come from the
 * items' sequence after the job's reserved ones, so they list after the names that move.
 */
export async function writeFinishedItems(trx: Knex.Transaction, jobId: string, chunk: number, items: FinishedItem[]): Promise<void> {
  if (items.length === 0) return;
  await trx.raw(
    `insert into bulk_job_items (job_id, chunk, domain_name, product, status, reason, message, started_at, finished_at)
     select ?::uuid, ?::int, u.name, 'domain', u.status, u.reason, u.message, now(), now()
     from unnest(?::text[], ?::text[], ?::text[], ?::text[]) with ordinality as u(name, status, reason, message, ord)
     order by u.ord`,
    [jobId, chunk, items.map((i) => i.name), items.map((i) => i.status), items.map((i) => i.reason), items.map((i) => i.message)],
  );
}
